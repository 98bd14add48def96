"""--ptq-json / --ptq-report: refused at parse time when unsafe to write, never clobbering what the user owns;
a write that fails at the end is one line, and the other output is still written."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakes import FAKE_RESULTS


def _unsafe(base: Path, kind: str) -> Path:
    if kind == "symlink":
        (base / "precious.txt").write_text("mine")
        (base / "link.json").symlink_to(base / "precious.txt")
        return base / "link.json"
    if kind == "folder":
        (base / "a-folder").mkdir()
        return base / "a-folder"
    if kind == "device":
        return Path("/dev/null")
    if kind == "under-a-file":
        (base / "plain").write_text("x")
        return base / "plain" / "out.json"
    if kind == "unwritable-folder":  # sysfs: no new files, not even for root
        return Path("/sys/resnet8-ptq-out.json")
    raise AssertionError(kind)


@pytest.mark.parametrize(("kind", "message"), [
    ("symlink", "is a symbolic link"), ("folder", "is a folder"), ("device", "is a device, pipe or socket"),
    ("under-a-file", "which is a file, not a folder"), ("unwritable-folder", "folder /sys is not writable (")])
@pytest.mark.parametrize("option", ["--ptq-json", "--ptq-report"])
def test_unsafe_output_paths_are_usage_errors_before_any_test(suite: pytest.Pytester, option: str, kind: str,
                                                              message: str) -> None:
    suite.makepyfile(test_fake=FAKE_RESULTS)
    target = _unsafe(suite.path, kind)
    result = suite.runpytest(f"{option}={target}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if "error:" in line]
    assert len(errors) == 1 and option in errors[0] and f"{target}: " in errors[0] and message in errors[0], \
        result.stderr.lines
    assert "passed" not in result.stdout.str()
    if kind == "symlink":
        assert (suite.path / "precious.txt").read_text() == "mine" and (suite.path / "link.json").is_symlink()


def test_one_path_for_both_outputs_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_fake=FAKE_RESULTS)
    result = suite.runpytest("--ptq-json=out.md", "--ptq-report=out.md")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ptq-json and --ptq-report both write */out.md; give them different paths*"])


def test_a_write_that_fails_at_the_end_is_one_line_and_the_other_output_is_written(suite: pytest.Pytester) -> None:
    # the folder appears where the JSON should go only while the run is under way
    suite.makepyfile(test_fake=FAKE_RESULTS + "\n\ndef test_zz_block(tmp_path_factory):\n"
                     f"    __import__('os').mkdir({str(suite.path / 'r.json')!r})\n")
    result = suite.runpytest("--ptq-json=r.json", "--ptq-report=report/r.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    lines = [line for line in result.stdout.lines if "r.json" in line and not line.startswith(("FAILED", "_"))]
    assert len(lines) == 2 and all(line.startswith("--ptq-json: could not write") for line in lines), lines
    assert "is a folder" in lines[0]  # once in the failed item's report (FAILURES), once at the end of the summary
    result.stdout.fnmatch_lines(["report written to */report/r.md*", "FAILED resnet8-ptq::outputs[[]--ptq-json[]]*"])
    assert (suite.path / "report" / "r.md").is_file() and os.path.isdir(suite.path / "r.json")
