"""The run's output files (--ptq-json, --ptq-report): checked when the options are parsed, before any build,
and written only over nothing or a regular file; a file that cannot be written is one line, and the other
output is still written."""
from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

FIGURE_SUFFIXES = ("-accuracy-vs-size.png", "-per-class-delta.png")  # written beside the report


def problem(path: Path) -> str | None:
    """Why `path` must not be written (replaced), or None when it is nothing yet or a regular file we may replace."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        parent = path.parent
        while True:
            try:
                pst = os.stat(parent)
            except (FileNotFoundError, NotADirectoryError):
                parent = parent.parent
                continue
            except OSError as exc:
                return f"its folder {parent} cannot be reached ({exc.strerror})"
            if not stat.S_ISDIR(pst.st_mode):
                return f"it would be under {parent}, which is a file, not a folder"
            return _unwritable(parent)
    except OSError as exc:  # e.g. a symlink loop in the path
        return f"cannot be checked ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link (it would be replaced by a file); give the path of a regular file"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder; give a file path inside it"
    if not stat.S_ISREG(st.st_mode):
        return "is a device, pipe or socket, not a regular file"
    if not os.access(path, os.W_OK):
        return "is not writable"
    return _unwritable(path.parent)


def _unwritable(folder: Path) -> str | None:
    """Why a new file cannot be created in `folder`, or None. Asked of the file system, never by creating a
    file: the folder is the user's, and nothing is made in it before the run is known to write there."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"folder {folder} is on a read-only file system"
    except OSError as exc:
        return f"folder {folder} cannot be checked ({exc.strerror or exc})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable (Permission denied)"
    kind = _fstype(folder)
    if kind in PSEUDO_FILE_SYSTEMS:  # writable bits, but no new regular files (not even for root)
        return f"folder {folder} is not writable (a {kind} pseudo file system)"
    return None


PSEUDO_FILE_SYSTEMS = frozenset({"proc", "sysfs", "cgroup", "cgroup2", "devpts", "debugfs", "securityfs", "tracefs",
                                 "configfs", "pstore", "bpf", "efivarfs", "fusectl", "mqueue", "binfmt_misc"})


def _fstype(folder: Path) -> str | None:
    """The file system type of the mount holding `folder` (Linux /proc/self/mountinfo), or None."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    real, best, kind = os.path.realpath(folder), "", None
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or not tail:
            continue
        point = parts[4].replace("\\040", " ")
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, tail.split()[0]
    return kind


def _paths(path: Path, report: bool) -> list[Path]:
    return [path, *(path.with_name(path.stem + s) for s in FIGURE_SUFFIXES)] if report else [path]


def output_file(report: bool = False) -> Callable[[str], Path]:
    """argparse `type=` for an output path: refused at parse time when it could not be written safely."""
    def parse(raw: str) -> Path:
        path = Path(raw).expanduser().absolute()
        if os.environ.get("PYTEST_XDIST_WORKER"):  # workers never write it (and a remote one has other folders)
            return path
        for target in _paths(path, report):
            why = problem(target)
            if why:
                raise argparse.ArgumentTypeError(f"{target}: {why}")
        return path
    parse.__name__ = "path"
    return parse


def distinct(json_path: Path | None, report_path: Path | None) -> str | None:
    """A usage error when both options name one file (one would overwrite the other)."""
    if json_path and report_path and json_path.resolve() in [p.resolve() for p in _paths(report_path, True)]:
        return (f"--ptq-json and --ptq-report both write {json_path}; give them different paths "
                f"(the report also writes {', '.join(s.lstrip('-') for s in FIGURE_SUFFIXES)} beside itself)")
    return None


def write_all(data: Mapping[str, Any], json_path: Path | None, report_path: Path | None) -> tuple[list[str], bool]:
    """Write both outputs, each independently; (one line per file written or refused, all written)."""
    from ptq_helpers.report import document as report, payload as results

    lines, ok = [], True
    jobs = [("--ptq-json", json_path, lambda p: [results.write_json(p, data), p][1:]),
            ("--ptq-report", report_path, lambda p: report.write(data, p))]
    for option, path, write in jobs:
        if path is None:
            continue
        why = next((f"{t}: {w}" for t in _paths(path, option == "--ptq-report") if (w := problem(t))), None)
        try:
            if why:
                raise OSError(why)
            written = write(path)
        except OSError as exc:
            ok = False
            lines.append(f"{option}: could not write {path}: {exc.strerror or exc}")
            continue
        label = "results" if option == "--ptq-json" else "report"
        lines.append(f"{label} written to {', '.join(map(str, written))}")
    return lines, ok
