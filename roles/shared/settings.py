"""Run settings (pyinfra data): declared once per role, converted and checked in one place.

Each role declares its settings as `Setting`s: the name (with the role's prefix), the default,
one sentence on what it does, and how a value given as `--data NAME=VALUE` (always text) is
converted. A role's `@deploy` functions pass `defaults(SETTINGS)` to pyinfra as
`data_defaults`, so `--data` overrides them, and read them back with `read(SETTINGS)`, which
refuses a bad value with a message naming the setting.

    SETTINGS = declare(
        Setting("asterisk__reload_wait", 15, "How long to wait ...", seconds),
    )

    @deploy("Asterisk", data_defaults=defaults(SETTINGS))
    def config_applied(...):
        settings = read(SETTINGS)
        settings.asterisk__reload_wait  # a float
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from pyinfra import host


class SettingError(ValueError):
    """A `--data` value televoc cannot use; the message names the setting and the fix."""


@dataclass(frozen=True)
class Setting:
    """One run setting: its name, default, a sentence on what it does, and its converter.

    + name: the pyinfra data name, with the role's prefix (`asterisk__cli`) or `televoc_`
      for a switch the crew gives on the command line
    + default: the value when nothing is given
    + doc: one sentence: what it does
    + parse: text or Python value -> the value the role uses; raises ValueError("expected ...")
    """

    name: str
    default: Any
    doc: str
    parse: Callable[[Any], Any]


# Every setting a role declared (roles declare theirs when imported): for check_given().
REGISTRY: dict[str, Setting] = {}
PREFIXES = ("televoc_", "asterisk__", "nixos__", "snom__", "selfservice__", "calllog__")


def declare(*settings: Setting) -> tuple[Setting, ...]:
    """A role's settings, registered so that check_given() knows them."""
    for s in settings:
        if not s.name.startswith(PREFIXES):
            raise ValueError(f"setting {s.name}: name must start with one of {PREFIXES}")
        REGISTRY[s.name] = s
    return settings


def unknown_given(given: Iterable[str]) -> list[str]:
    """Problems with the names given as --data: televoc's prefixes but no such setting."""
    problems = []
    for name in given:
        if name.startswith(PREFIXES) and name not in REGISTRY:
            close = difflib.get_close_matches(name, list(REGISTRY), n=1)
            hint = f"did you mean {close[0]}?" if close else "see docs/reference.md, 'Run settings'"
            problems.append(f"--data {name}: no such setting: {hint}")
    return problems


def check_given() -> None:
    """Refuse --data names televoc does not know (a typo would silently change nothing)."""
    problems = unknown_given(host.inventory.get_override_data())
    if problems:
        raise SettingError("; ".join(problems))


def defaults(settings: Iterable[Setting]) -> dict[str, Any]:
    """{name: default}, for `@deploy(data_defaults=...)`."""
    return {s.name: s.default for s in settings}


def read(settings: Iterable[Setting]) -> SimpleNamespace:
    """The settings as the current host sees them (`--data` > host data > defaults),
    converted; SettingError naming every setting whose value cannot be used."""
    values, problems = {}, []
    for s in settings:
        raw = host.data.get(s.name, s.default)
        try:
            values[s.name] = s.parse(raw)
        except ValueError as e:
            problems.append(f"--data {s.name}={raw!r}: {e} ({s.doc})")
    if problems:
        raise SettingError("; ".join(problems))
    return SimpleNamespace(**values)


# --- converters: each takes what --data (text) or Python code (typed) gives ------------------


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ValueError("expected true or false")


def seconds(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number of seconds") from None
    if not 0 <= number <= 24 * 3600 or number != number:
        raise ValueError("expected a number of seconds from 0 to 86400")
    return number


def choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        # pyinfra's --data turns `false`/`true` into Python's booleans: take them as written
        text = ("true" if value else "false") if isinstance(value, bool) else str(value).strip()
        if text not in allowed:
            raise ValueError(f"expected {' or '.join(repr(a) for a in allowed)}")
        return text

    return parse


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty text")
    return value


def absolute_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value or "//" in value:
        raise ValueError("expected an absolute path")
    return value.rstrip("/") or "/"


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def names(value: Any) -> tuple[str, ...]:
    """Comma-separated phone names ('' for none); checked against the directory by the caller."""
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        items = [v.strip() for v in str(value).split(",")]
    items = [v for v in items if v]
    bad = [v for v in items if not _NAME.match(v)]
    if bad:
        raise ValueError(f"expected comma-separated phone names, not {', '.join(bad)}")
    return tuple(dict.fromkeys(items))
