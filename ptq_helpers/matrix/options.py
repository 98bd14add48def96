"""One setting of the suite (flag, ini key, parser, default, help) and the parsers that validate values once,
when they are parsed; the tables of options live with what they configure."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ptq_helpers.core.errors import ConfigError

Parse = Callable[[str], Any]
INI_SOURCE = "[tool.pytest.ini_options]"


def number_in(lo: float, hi: float, kind: type = float, why: str = "") -> Parse:
    """Parser of a number of `kind` within [lo, hi] (argparse `type=`; also applied to ini values)."""
    def parse(raw: str) -> float | int:
        try:
            value = kind(str(raw).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number; give e.g. {kind(hi)!r}") from None
        if not lo <= value <= hi:
            bounds = f"outside {lo:g}..{hi:g}; give a value in that range" if not why else \
                f"not between {lo} and {hi} ({why})"
            raise argparse.ArgumentTypeError(f"{value} is {bounds}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def count_in(lo: int, hi: int, why: str) -> Parse:
    """Parser of an integer within [lo, hi]; `why` explains the bounds."""
    return number_in(lo, hi, int, why)


def one_of(*choices: str) -> Parse:
    """Parser of one word among `choices`."""
    def parse(raw: str) -> str:
        value = str(raw).strip()
        if value not in choices:
            raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(choices)}")
        return value
    parse.__name__ = "choice"
    return parse


@dataclass(frozen=True)
class Option:
    """One setting: command-line flag, ini key (None: command line only), parser, default and help."""

    dest: str
    flag: str
    ini: str | None
    parse: Parse
    default: Any
    help: str
    metavar: str | None = None


def add_options(options: tuple[Option, ...], group: Any, addini: Callable[..., None]) -> None:
    """Register options on a pytest option group, with their ini keys (types checked at parse time)."""
    for opt in options:
        default = opt.default if not isinstance(opt.default, tuple) else ",".join(map(str, opt.default))
        where = ("; " if opt.default is not None else " (") + (f"ini {opt.ini})" if opt.ini else "command line only)")
        said = f" (default {default}" + where if opt.default is not None else where
        group.addoption(opt.flag, dest=f"ptq_{opt.dest}", type=opt.parse, metavar=opt.metavar,
                        help=(opt.help + said).replace("%", "%%"))  # argparse %-formats help; ini help as is
        if opt.ini:
            addini(opt.ini, opt.help)


def resolve(options: tuple[Option, ...], cli: Callable[[str], Any], ini: Callable[[str], Any]) -> dict[str, Any]:
    """Command line (already parsed), else ini (parsed here by the same parser), else the default."""
    values: dict[str, Any] = {}
    for opt in options:
        value = cli(f"ptq_{opt.dest}")
        raw = ini(opt.ini) if value is None and opt.ini else None
        if value is None and raw not in (None, ""):
            try:
                value = opt.parse(raw)
            except argparse.ArgumentTypeError as exc:
                raise ConfigError(f"{INI_SOURCE} {opt.ini}: {exc}") from None
        values[opt.dest] = opt.default if value is None else value
    return values
