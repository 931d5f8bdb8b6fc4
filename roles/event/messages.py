"""pydantic's validation errors, said in words a person can act on: what is wrong with the value,
the rule (each field's `description` in model.py), and the fix. No pydantic wording gets out."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from annotated_types import Ge, Le
from pydantic.fields import FieldInfo

from .model import EVENT_NAME_RULE, NAME_RULE, RENAMED_KEYS, rule_of

# Examples for a missing or wrong value, by field name.
EXAMPLES = {
    "name": "saal1",
    "extension": "1001",
    "network": "10.23.0.0/24",
    "pbx_address": "10.23.0.2",
    "hello_world": "100",
    "echo": "101",
    "display_name": "Saal 1",
    "contact": "sip:door@10.23.0.50:5060",
    "mac": '"00:04:13:2a:bc:de"',
    "model": "snom320",
    "ringer": "Ringer3",
    "address": "10.23.0.31",
    "realm": "example-event",
    "domain": "pbx.example.org",
    "bind": "0.0.0.0",
    "web_user": "admin",
    "secret_file": "~/.config/televoc/example-event.secret",
    "first": "2000",
    "last": "8999",
    "claim_code": '"*23"',
    "info_desk": "infodesk",
}

# Spelled out when a name has them (umlauts and their kin).
_TRANSLITERATION = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "Ä": "Ae",
    "Ö": "Oe",
    "Ü": "Ue",
    "ß": "ss",
    "æ": "ae",
    "Æ": "Ae",
    "ø": "oe",
    "Ø": "Oe",
    "å": "aa",
    "Å": "Aa",
    "œ": "oe",
    "Œ": "Oe",
}

# Name-like fields: (characters allowed, the first character's, at most, lower case only, rule).
_NAMES = {
    ("PhoneEntry", "name"): (r"[A-Za-z0-9_.-]", r"[A-Za-z0-9]", 40, False, NAME_RULE),
    ("Event", "name"): (r"[a-z0-9-]", r"[a-z0-9]", 40, True, EVENT_NAME_RULE),
}


def shown(value: Any) -> str:
    """What YAML made of a value, in words ('the number 1.1' for 1.10)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping of keys"
    return repr(value)


def _quoted(text: str) -> str:
    return f"'{text}'" if '"' in text or "\\" in text else f'"{text}"'


def _char(c: str) -> str:
    if c == " ":
        return "a space"
    if c == "\t":
        return "a tab"
    return repr(c)


def suggest_name(value: str, allowed: str, first: str, limit: int, lower: bool) -> str | None:
    """`value` spelled with the characters a name takes: umlauts spelled out (ü -> ue), accents
    dropped (é -> e), every other run of characters replaced by '-'."""
    text = "".join(_TRANSLITERATION.get(c, c) for c in value)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    if lower:
        text = text.lower()
    text = re.sub(rf"(?:(?!{allowed}).)+", "-", text)
    while text and not re.match(first, text):
        text = text[1:]
    text = text[:limit].rstrip("-")
    return text or None


def _name_problem(value: str, spec: tuple) -> str:
    allowed, first, limit, lower, rule = spec
    faults = []
    bad = sorted({c for c in value if not re.fullmatch(allowed, c)}, key=value.index)
    if bad:
        faults.append("has " + ", ".join(_char(c) for c in bad))
    elif value and not re.match(first, value):
        faults.append(f"starts with {_char(value[0])}")
    if len(value) > limit:
        faults.append(f"has {len(value)} characters")
    if not value:
        faults.append("is empty")
    what = f"{value!r} {' and '.join(faults) or 'does not fit'}"
    suggestion = suggest_name(value, allowed, first, limit, lower)
    fix = f"write {suggestion!r}" if suggestion and suggestion != value else "choose another"
    return f"{what}, but {rule}: {fix}"


def _digits_problem(value: str, rule: str, example: str) -> str:
    bad = sorted({c for c in value if not c.isascii() or not c.isdigit()}, key=value.index)
    if bad:
        what = f"{value!r} has {', '.join(_char(c) for c in bad)}"
    else:
        what = f"{value!r} has {len(value)} digit{'s' if len(value) != 1 else ''}"
    return f"{what}, but {rule}: write digits only, e.g. {example}"


def _number_rule(key, field) -> str:
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    rule = rule_of(field)
    what = f"{key} ({rule})" if rule else str(key)
    if low is not None and high is not None:
        return f"{what} is a whole number from {low} to {high}"
    return f"{what} is a whole number"


def _field(model: type, loc: tuple) -> tuple[Any, FieldInfo | None]:
    """(the model that holds the field at `loc`, its FieldInfo or None)."""
    current: Any = model
    for key in loc[:-1]:
        if isinstance(key, int):
            continue
        info = current.model_fields.get(key) if hasattr(current, "model_fields") else None
        if info is None:
            return current, None
        annotation = info.annotation
        current = next(
            (c for c in getattr(annotation, "__args__", (annotation,)) if hasattr(c, "model_fields")),
            None,
        )
        if current is None:
            return None, None
    if current is None or not hasattr(current, "model_fields"):
        return current, None
    return current, current.model_fields.get(loc[-1]) if loc else None


def explain(error: Mapping[str, Any], model: type, source: str | None) -> str:
    """One pydantic error of `model` in words: '<what is wrong and the rule>: <the fix>'.
    `source` is the value's text as written in the YAML file, when it is a scalar."""
    kind, loc = error["type"], error["loc"]
    value = error.get("input")
    key = loc[-1] if loc else ""
    holder, field = _field(model, loc)
    rule = (rule_of(field) if field is not None else None) or "see docs/reference.md"
    default = None
    if field is not None and not field.is_required():
        default = field.default
    example = EXAMPLES.get(str(key)) or (str(default) if default not in (None, "") else None)
    example_fix = f"e.g. {key}: {example}" if example else "see docs/reference.md"

    if kind == "extra_forbidden":
        if key in RENAMED_KEYS:
            return f"this key is now called '{RENAMED_KEYS[key]}': rename it"
        keys = list(holder.model_fields) if holder is not None else []
        close = difflib.get_close_matches(str(key), keys, n=1)
        if close:
            return f"unknown key: did you mean '{close[0]}'?"
        return f"unknown key: the keys here are {', '.join(keys)}"
    if kind == "missing":
        return f"is required: add it, {example_fix}"
    if kind == "string_type":
        if value is None:
            return f"is empty, but {rule}: fill it in, {example_fix}"
        if isinstance(value, (bool, int, float)):
            text = source if source is not None else str(value)
            return f"YAML reads {text} as {shown(value)}, not as text: write it in quotes, {_quoted(text)}"
        return f"is {shown(value)}, but {rule}: write a single value, {example_fix}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"is {shown(value)}, but {_number_rule(key, field)}: {example_fix}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{value} is out of range: {_number_rule(key, field)}: {example_fix}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return (
            f"is {shown(value)}, but {key} is a mapping of keys: write them indented below "
            f"'{key}:' (see docs/reference.md)"
        )
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind in ("target_number", "outside_number"):
        return error["msg"]
    if kind == "bool_type":
        written = str(default).lower() if isinstance(default, bool) else "true"
        return f"is {shown(value)}, but {key} is true or false: write {key}: {written} or the other"
    if kind == "too_short":
        return f"is an empty list, but a group rings one member at least: list them under '{key}:', one '- name' each"
    if kind == "list_type":
        return f"is {shown(value)}, but {key} is a list: write one '- name' per line below '{key}:'"
    if kind == "string_pattern_mismatch" and isinstance(value, str):
        spec = _NAMES.get((getattr(holder, "__name__", ""), key))
        if spec:
            return _name_problem(value, spec)
        if key in ("extension", "hello_world", "echo", "first", "last"):
            return _digits_problem(value, rule, EXAMPLES.get(str(key), "1001"))
        if key == "ringer":
            close = difflib.get_close_matches(value, ["Silent", *(f"Ringer{i}" for i in range(1, 11))], n=1)
            fix = f"write '{close[0]}'" if close else "e.g. ringer: Ringer3"
            return f"{value!r} is no ringer: {rule}: {fix}"
        if key == "display_name":
            bad = sorted({c for c in value if c in '"<>;\\' or ord(c) < 32}, key=value.index)
            what = f"has {', '.join(_char(c) for c in bad)}" if bad else f"has {len(value)} characters"
            return f"{value!r} {what}, but {rule}: {example_fix}"
        if getattr(holder, "__name__", "") == "OutsideNumber" and key == "number":
            return f'{value!r} does not fit: {rule}: write it like this, e.g. number: "+49 30 1234567"'
        if key == "model" and value.lower().startswith("snom") and value != value.lower():
            return f"{value!r} does not fit: {rule}: write '{value.lower()}'"
        return f"{value!r} does not fit: {rule}: write it like this, {example_fix}"
    return f"{shown(value)} does not fit: {rule}: write it like this, {example_fix}"
