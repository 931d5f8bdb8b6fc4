"""The reference of every key of the event directory and every run setting, generated from
their one source: the model's fields (roles/event/model.py: each field's `doc` says what it is
for, its `description` is its rule) and the settings each role declares.

    python -m roles.reference            # writes docs/reference.md
    python -m roles.reference --check    # exit 1 when docs/reference.md is stale

tests/unit/test_reference.py fails when the file in docs/ is not what this writes.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any

from annotated_types import Ge, Le, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from roles import plan, preflight  # noqa: F401  (imports every role: each declares its settings)
from roles.event.model import (
    Announcement,
    BaseEntry,
    Board,
    CallLog,
    ConferenceEntry,
    Event,
    Forward,
    GroupEntry,
    IntercomEntry,
    Member,
    NumberRange,
    OutsideNumber,
    PagingEntry,
    PhoneEntry,
    SelfService,
    Trunk,
    Venue,
    rule_of,
)
from roles.shared.settings import REGISTRY, Setting

DOC = Path(__file__).resolve().parents[1] / "docs" / "reference.md"

HEAD = """\
# Reference: every key and every setting

Every key of the event directory and every run setting (`--data NAME=VALUE`). Generated from
the model (`roles/event/model.py`) and the settings each role declares, by
`python -m roles.reference`; a test fails when this file is stale: do not edit it by hand.
How to describe an event: [event.md](event.md); routing: [routing.md](routing.md); trunk and
venues: [trunks-and-venues.md](trunks-and-venues.md); DECT: [dect.md](dect.md).
"""


def _extra(field: FieldInfo) -> dict:
    extra = field.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _bounds(field: FieldInfo) -> tuple[Any | None, Any | None]:
    metadata = list(field.metadata)
    todo = [field.annotation]
    while todo:  # an optional number keeps its bounds inside Optional[...]
        for arg in typing.get_args(todo.pop()):
            if isinstance(arg, FieldInfo):
                metadata += arg.metadata
            else:
                todo.append(arg)
    low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, Le)), None)
    return low, high


def _base(annotation: Any) -> set:
    """The plain types an annotation takes (Optional, Annotated and Union unwrapped)."""
    found, todo = set(), [annotation]
    while todo:
        a = todo.pop()
        args = typing.get_args(a)
        if typing.get_origin(a) in (typing.Union, types.UnionType, typing.Annotated):
            todo.extend(x for x in args if not isinstance(x, FieldInfo))
        elif typing.get_origin(a) is not None:
            found.add(typing.get_origin(a))
        else:
            found.add(a)
    return found


def allowed(field: FieldInfo) -> str:
    """What a key takes, in words."""
    kinds = _base(field.annotation)
    low, high = _bounds(field)
    if bool in kinds:
        return "`true` or `false`"
    if int in kinds and str not in kinds:
        if low is not None and high is not None:
            return f"a whole number from {low} to {high}"
        return "a whole number"
    if dict in kinds:
        return "names, each with the keys below"
    items = typing.get_args(field.annotation)
    if tuple in kinds and any(isinstance(a, type) and issubclass(a, BaseModel) for a in items):
        return "a list (below)"
    if list in kinds:
        at_least = any(isinstance(m, MinLen) and m.min_length for m in field.metadata)
        return f"a list (below){', one at least' if at_least else ''}"
    if any(isinstance(k, type) and issubclass(k, BaseModel) for k in kinds):
        return "the keys below"
    return rule_of(field) or ""


def default(field: FieldInfo) -> str:
    shown = _extra(field).get("default_doc")
    if shown is not None:
        return shown
    value = field.default
    if value is PydanticUndefined:
        return "required"
    if value is None or value == () or value == {}:
        return "none"
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(model: type[BaseModel], prefix: str = "", nested: tuple = ()) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        doc = _extra(field).get("doc")
        if not doc:
            raise ValueError(f"{model.__name__}.{name}: no doc (roles/event/model.py: json_schema_extra=doc(...))")
        key = f"{prefix}{name}"
        inner = next((k for k in _base(field.annotation) if isinstance(k, type) and issubclass(k, BaseModel)), None)
        if inner is not None and inner not in nested and isinstance(field.default, BaseModel):
            rows.append(f"| `{key}` | {_cell(doc)} | the keys `{key}.*` below | |")
            rows += _rows(inner, f"{key}.", nested)
            continue
        rows.append(f"| `{key}` | {_cell(doc)} | {_cell(allowed(field))} | {_cell(default(field))} |")
    return rows


def _table(model: type[BaseModel], prefix: str = "", nested: tuple = ()) -> str:
    return (
        "\n".join(["| key | meaning | takes | default |", "| --- | --- | --- | --- |", *_rows(model, prefix, nested)])
        + "\n"
    )


def _setting_default(s: Setting) -> str:
    if isinstance(s.default, bool):
        return f"`{str(s.default).lower()}`"
    if s.default in ("", None):
        return "(none)"
    return f"`{s.default}`"


def settings_table() -> str:
    """Every run setting: the crew's switches (televoc_*) first, then each role's, by name."""
    crew = [s for s in REGISTRY.values() if s.name.startswith("televoc_")]
    roles = sorted((s for s in REGISTRY.values() if not s.name.startswith("televoc_")), key=lambda s: s.name)
    rows = [f"| `{s.name}` | {_cell(_setting_default(s))} | {_cell(s.doc)} |" for s in (*crew, *roles)]
    return "\n".join(["| setting | default | what it does |", "| --- | --- | --- |", *rows]) + "\n"


def render() -> str:
    """docs/reference.md."""
    parts = [
        HEAD,
        "## event.yml\n\nSettings that hold for the whole event.\n",
        _table(Event, nested=(Trunk, Venue, SelfService, Board, CallLog)),
        "### trunk\n\n`trunk:` in event.yml: the event's account at an upstream SIP network. Its password is "
        "not here: it lives in the trunk's secret file.\n",
        _table(Trunk, "trunk."),
        "### venues\n\n`venues:` in event.yml, one entry per venue by its name (lower case, digits, `-`): its "
        "own PBX, its own numbers.\n",
        _table(Venue, "venues.<name>."),
        "### self_service\n\n`self_service:` in event.yml: participants' own phones get a temporary number and "
        "claim the number they want ([self-service.md](self-service.md): declared and checked; claims held in "
        "the PBX's database and served live; the page, temporary numbers and the claim by dialling not yet).\n",
        _table(SelfService, "self_service.", nested=(NumberRange,)),
        "#### claimable and temporary\n\nEach range is `first` and `last`, both included, numbers of one "
        "length; the two ranges share no number, and no number of the crew lies inside either.\n",
        _table(NumberRange, "self_service.<range>."),
        "### board\n\n`board:` in event.yml: the crew's live buildup board, every phone's state by location, "
        "behind a crew login, in the registration page's web application ([board.md](board.md)).\n",
        _table(Board, "board."),
        "### call_log\n\n`call_log:` in event.yml: a record of every call in a database on the PBX, for the "
        "crew's statistics; off unless turned on ([call-log.md](call-log.md)).\n",
        _table(CallLog, "call_log."),
        "### outside_numbers\n\n`outside_numbers:` in event.yml, one entry per number outside the event (the "
        "venue's reception, a taxi): listed in the printed directory and its exports, never a phone "
        "([routing.md](routing.md#outside-numbers)).\n",
        _table(OutsideNumber),
        "### announcements\n\n`announcements:` in event.yml, one entry per number that plays an audio file of the "
        "event directory once, then hangs up ([routing.md](routing.md#announcements)).\n",
        _table(Announcement),
        "## phones.yml\n\nA list under `phones:`, one entry per phone.\n",
        _table(PhoneEntry),
        "## groups.yml\n\nOptional. A list under `groups:`, one entry per group.\n",
        _table(GroupEntry),
        "### members\n\nA member is written as its name alone (`- saal1`: rings at once) or as a mapping:\n",
        _table(Member),
        "## dect.yml\n\nOptional. A list under `bases:`, one entry per DECT base station; its handsets are "
        "phones of phones.yml with `base`, `slot` and `ipei` ([dect.md](dect.md)).\n",
        _table(BaseEntry),
        "## services.yml\n\nOptional. Three lists, each optional: `paging:`, `intercom:` and `conferences:` "
        "([services.md](services.md)). Their names are their own (no phone or group is named by them); their "
        "numbers are nobody else's.\n",
        "### paging\n\nOne entry per paging group: dialling its number puts the caller on the speaker of "
        "every member phone at once, one-way.\n",
        _table(PagingEntry, "paging."),
        "### intercom\n\nOne entry per pair of phones that reach each other on the speaker, both ways.\n",
        _table(IntercomEntry, "intercom."),
        "### conferences\n\nOne entry per conference room.\n",
        _table(ConferenceEntry, "conferences."),
        "## forward (phones.yml and groups.yml)\n\n`forward:` names a phone, a group or an announcement, by "
        "name, for each case; a forward to an outside number is written as a phone dials it "
        "([trunks-and-venues.md](trunks-and-venues.md)).\n",
        _table(Forward, "forward."),
        "## Run settings\n\nGiven as `--data NAME=VALUE` to pyinfra (or as host data in inventory.py). A "
        "misspelt name is refused, naming the right one.\n",
        settings_table(),
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roles.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/reference.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is stale: run python -m roles.reference", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
