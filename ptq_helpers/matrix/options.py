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


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e12 else f"{value:g}"


def number_in(lo: float, hi: float, kind: type = float, why: str = "") -> Parse:
    """Parser of a number of `kind` within [lo, hi] (argparse `type=`; also applied to ini values)."""
    def parse(raw: str) -> float | int:
        try:
            value = kind(str(raw).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not {'an integer' if kind is int else 'a number'}; give one "
                                             f"in {_num(lo)}..{_num(hi)}") from None
        if not lo <= value <= hi:
            bounds = f"outside {lo:g}..{hi:g}; give a value in that range" if not why else \
                f"not between {lo} and {hi} ({why})"
            raise argparse.ArgumentTypeError(f"{value} is {bounds}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    parse.range = f"{_num(lo)}..{_num(hi)}"  # type: ignore[attr-defined]  # said by --help and by parse errors
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
    parse.range = "one of " + ", ".join(choices)  # type: ignore[attr-defined]
    return parse


def yes_no(raw: str) -> bool:
    """Parser of a switch: yes/no (also true/false, on/off, 1/0)."""
    value = str(raw).strip().lower()
    if value in ("yes", "true", "on", "1"):
        return True
    if value in ("no", "false", "off", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{raw!r} is not yes or no")


yes_no.range = "yes or no"  # type: ignore[attr-defined]


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
    default_text: str = ""  # how --help words the default when it is computed (None in the table), e.g. "auto: ..."


def shown_default(opt: Option) -> str:
    """The default as a user writes it ('off' when there is none)."""
    if opt.default_text:
        return opt.default_text
    if opt.default is None:
        return "off"
    if isinstance(opt.default, bool):
        return "yes" if opt.default else "no"
    return ",".join(map(str, opt.default)) if isinstance(opt.default, tuple) else str(opt.default)


def facts(opt: Option) -> str:
    """'default 85.0; 0..100; ini ptq_min_accuracy': what --help and every parse error say about an option."""
    valid = getattr(opt.parse, "range", None)
    return "; ".join([f"default {shown_default(opt)}", *([valid] if valid else []),
                      f"ini {opt.ini}" if opt.ini else "command line only"])


def explained(opt: Option) -> Parse:
    """The option's parser, whose errors also give the default and the valid range."""
    def parse(raw: str) -> Any:
        try:
            return opt.parse(raw)
        except argparse.ArgumentTypeError as exc:
            valid = getattr(opt.parse, "range", None)
            said = [f"default {shown_default(opt)}", *([f"valid: {valid}"] if valid and valid not in str(exc) else [])]
            raise argparse.ArgumentTypeError(f"{exc} ({'; '.join(said)})") from None
    parse.__name__ = opt.parse.__name__
    return parse


def add_options(options: tuple[Option, ...], group: Any, addini: Callable[..., None]) -> None:
    """Register options on a pytest option group (or `group(option)` picks one), with their ini keys (types
    checked at parse time); the help says the default, the valid range and the ini key."""
    for opt in options:
        where = group(opt) if callable(group) and not hasattr(group, "addoption") else group
        where.addoption(opt.flag, dest=f"ptq_{opt.dest}", type=explained(opt), metavar=opt.metavar,
                        help=f"{opt.help} ({facts(opt)})".replace("%", "%%"))  # argparse %-formats help
        if opt.ini:
            addini(opt.ini, f"{opt.help} ({facts(opt)})")


def ini_source(name: str) -> str:
    """Where an ini value comes from, when the caller does not know better."""
    return f"{INI_SOURCE} {name}"


def resolve(options: tuple[Option, ...], cli: Callable[[str], Any], ini: Callable[[str], Any],
            source: Callable[[str], str] = ini_source) -> dict[str, Any]:
    """Command line (already parsed), else ini (parsed here by the same parser), else the default; a bad ini value
    is blamed on `source(key)` (pytest's `-o key=value`, or the ini file)."""
    values: dict[str, Any] = {}
    for opt in options:
        value = cli(f"ptq_{opt.dest}")
        raw = ini(opt.ini) if value is None and opt.ini else None
        if value is None and raw not in (None, ""):
            try:
                value = explained(opt)(raw)
            except argparse.ArgumentTypeError as exc:
                raise ConfigError(f"{source(opt.ini)}: {exc}") from None
        values[opt.dest] = opt.default if value is None else value
    return values
