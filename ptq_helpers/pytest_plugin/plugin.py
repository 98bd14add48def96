"""The resnet8-ptq pytest plugin (entry point `pytest11`): options, then hooks that delegate to PTQSession."""
from __future__ import annotations

import pytest

from ptq_helpers.pytest_plugin import options as settings
from ptq_helpers.pytest_plugin.session import PTQSession, session_of


def pytest_addoption(parser: pytest.Parser) -> None:
    settings.register(parser)


@pytest.hookimpl(optionalhook=True)
def pytest_plugin_registered(plugin: object) -> None:  # a conftest may register frameworks with options
    settings.register_new()


def pytest_configure(config: pytest.Config) -> None:
    PTQSession.configure(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    ptq = session_of(session.config)
    ptq.preflight(session.config)
    ptq.run_steps()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session_of(metafunc.config).parametrize(metafunc)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups it adds
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session_of(config).deselect(config, items)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return session_of(config).header()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    session_of(item.config).note(item, report)
    return report


@pytest.hookimpl(tryfirst=True)  # its failed items (--ptq-baseline regressions) before junitxml writes the file
def pytest_sessionfinish(session: pytest.Session) -> None:
    session_of(session.config).finish(session)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001 - xdist hook
    session_of(node.config).merge(node)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001
    if not hasattr(config, "workerinput"):
        session_of(config).terminal_summary(terminalreporter)
