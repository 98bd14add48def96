"""The resnet8-ptq pytest plugin (entry point `pytest11`): options, then hooks that delegate to PTQSession."""
from __future__ import annotations

import pytest

from ptq_helpers.pytest_plugin import outputs, options as settings
from ptq_helpers.pytest_plugin.session import PTQSession, session_of


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("resnet8-ptq", "ResNet8 post-training quantization gate")
    group.addoption("--assets-dir", metavar="PATH", help="folder with cifar-10-batches-py/, mlperf-tiny/, resnet8.onnx "
                    "(default: $RESNET8_PTQ_ASSETS, then <cache>/assets, downloaded when missing)")
    group.addoption("--ptq-cache-dir", metavar="PATH", help="writable cache for downloads, built models and predictions "
                    "(default: $RESNET8_PTQ_CACHE, then the user cache folder, e.g. ~/.cache/resnet8-ptq)")
    group.addoption("--ptq-rebuild", action="store_true", help="rebuild every model and prediction this run")
    group.addoption("--ptq-sweep", type=settings.sweep_draws, nargs="?", const=5, default=0, metavar="K",
                    help="also run the slow calibration-draw sweep: K independent calibration draws per quantized "
                    "model (K defaults to 5)")
    settings.add_options(settings.RUN_OPTIONS, group, parser.addini)
    group.addoption("--ptq-json", metavar="PATH", type=outputs.output_file(),
                    help="write all results as JSON to PATH (a new or regular file)")
    group.addoption("--ptq-report", metavar="PATH", type=outputs.output_file(report=True),
                    help="write the analysis report (Markdown, PNG figures beside it)")
    group.addoption("--ptq-model", metavar="PATH", type=settings.model_file,
                    help="gate your own fp32 ResNet8 (.onnx, or Keras .h5 to include LiteRT) instead of MLPerf's; "
                         "when it is not the reference model the fp32 pin is off and each framework's measured fp32 "
                         "is its baseline")
    group.addoption("--ptq-baseline", metavar="OLD.json", type=settings.baseline_file,
                    help="compare this run with an earlier --ptq-json file and fail on a regression "
                         "(limits as python -m ptq_helpers.compare's defaults)")
    settings.add_options(settings.THRESHOLD_OPTIONS, group, parser.addini)


def pytest_configure(config: pytest.Config) -> None:
    PTQSession.configure(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    session_of(session.config).preflight(session.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session_of(metafunc.config).parametrize(metafunc)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups it adds
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session_of(config).deselect(config, items)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return session_of(config).header()


def pytest_sessionfinish(session: pytest.Session) -> None:
    session_of(session.config).finish(session)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001 - xdist hook
    session_of(node.config).merge(node)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001
    if not hasattr(config, "workerinput"):
        session_of(config).terminal_summary(terminalreporter)
