"""services.yml: paging groups, intercoms and conference rooms, read, checked and resolved.

The file is optional; it holds three lists, each optional (docs/services.md):

    paging:        a number that puts the caller on the speaker of every member phone, one-way
    intercom:      two phones that reach each other on the speaker, both ways, with one number
    conferences:   a conference room, with an optional PIN

Every problem is reported with the others (sources.py says how): each entry on its own
(model.py), then the rules across the directory: a service's name is its own (no other
service has it), its number is nobody else's (phones, groups, test numbers, the pickup code,
the other services), it does not begin with the dial-out prefix, lies outside the
self-service ranges and, with venues, in the venue of every phone it reaches; members and
callers name phones or groups, an intercom's two phones are two phones. `resolve()` turns the
valid entries into the model's `Services`: every group expanded into its phones (paused ones
too: pausing is about ringing; forwards do not apply to a page).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from roles.shared.names import RESERVED_NAMES, RESERVED_PREFIX

from . import yamlload
from .checks import Entries
from .messages import shown
from .model import (
    Account,
    Conference,
    ConferenceEntry,
    Event,
    Group,
    Intercom,
    IntercomEntry,
    Paging,
    PagingEntry,
    Services,
)
from .routing import MAX_DIAL_STRING, callers
from .selfservice import Claim
from .sources import GROUPS_FILE, PHONES_FILE, SERVICES_FILE, SourceFile
from .venues import venue_of

MODELS: dict[str, type[BaseModel]] = {"paging": PagingEntry, "intercom": IntercomEntry, "conferences": ConferenceEntry}
KEYS = ", ".join(f"'{k}'" for k in MODELS)


@dataclass(slots=True)
class ServiceView:
    """One entry of services.yml as the rules across entries see it (see entries.PhoneView)."""

    kind: str  # its list: "paging", "intercom" or "conferences"
    index: int  # in that list, from 0
    name: str | None
    number: str | None
    entry: BaseModel | None  # None when the entry has problems of its own


def validate_services(file: SourceFile) -> list[ServiceView]:
    """A view of every entry of `file` (services.yml, a mapping already read); each entry's own
    problems are reported."""
    data = file.data
    for key in data:
        if key not in MODELS:
            file.add((key,), f"unknown key: {SERVICES_FILE} takes only {KEYS}", key=True)
    views: list[ServiceView] = []
    for kind, model in MODELS.items():
        entries = data.get(kind)
        if entries is None or entries is yamlload.REFUSED:
            continue
        if not isinstance(entries, list):
            file.add((kind,), f"is {shown(entries)}, but it must be a list, one '- name: ...' entry each")
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                if entry is not yamlload.REFUSED:
                    file.add(
                        (kind, i),
                        f"is {shown(entry)}, but an entry is a mapping of keys: write '- name: ...' and its "
                        "other keys (number, ...) indented below",
                    )
                continue
            valid, bad = file.validate(model, entry, prefix=(kind, i))
            if valid is not None:
                views.append(ServiceView(kind, i, valid.name, valid.number, valid))
            else:
                views.append(ServiceView(kind, i, _plain(entry, "name", bad), _plain(entry, "number", bad), None))
    return views


def _plain(data: dict, key: str, bad: set) -> str | None:
    value = data.get(key)
    if key in bad or isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


def check_services(
    event: Event | None,
    file: SourceFile,
    views: list[ServiceView],
    entries: Entries,
    tests: Mapping[str, str],
    pickup_code: str | None,
    claims: Sequence[Claim] = (),
) -> None:
    """Every rule across services.yml and the rest of the directory (the module's docstring);
    `claims`: the numbers participants hold (self-service): a service may not take one."""
    _names(file, views)
    _numbers(event, file, views, entries, tests, pickup_code)
    held = {c.number: c for c in claims}
    for v in views:
        if v.number in held:
            file.add(
                (v.kind, v.index, "number"),
                f"{v.number!r} is {held[v.number]}: choose another number, or have the participant release the "
                "claim first",
            )
    phones = {v.name.lower(): v for v in entries.phone_views if v.name}
    groups = {g.name.lower() for g in entries.group_views if g.name}
    for v in views:
        if isinstance(v.entry, PagingEntry):
            for key in ("members", "callers"):
                for j, name in enumerate(getattr(v.entry, key)):
                    if name.lower() not in phones and name.lower() not in groups:
                        file.add((v.kind, v.index, key, j), _unknown(name, entries, "phone or group"))
            dial = sum(len("PJSIP/&") + len(name) for name in _phones(v.entry.members, entries))
            if dial > MAX_DIAL_STRING:
                file.add(
                    (v.kind, v.index, "members"),
                    "pages more phones than Asterisk takes in one call: split it into paging groups",
                )
        elif isinstance(v.entry, IntercomEntry):
            a, b = v.entry.phones
            for j, name in enumerate((a, b)):
                if name.lower() not in phones:
                    what = "a group: an intercom joins two phones" if name.lower() in groups else None
                    file.add((v.kind, v.index, "phones", j), what or _unknown(name, entries, "phone"))
            if a.lower() == b.lower():
                file.add((v.kind, v.index, "phones", 1), f"{b!r} is the first phone too: name two phones")
    if event is not None and event.venues:
        _within_venue(event, file, views, entries)


def _phones(names: Sequence[str], entries: Entries) -> set[str]:
    """The phones (lower names) that `names` reach: phones, and every phone of a group and its
    nested groups (a cycle is reported by the groups' own rules; here it just ends)."""
    members = {g.name.lower(): [m.name for m in g.entry.members] for g in entries.group_views if g.entry and g.name}
    phones, seen, todo = set(), set(), [n.lower() for n in names]
    while todo:
        name = todo.pop()
        if name in members:
            if name not in seen:
                seen.add(name)
                todo.extend(m.lower() for m in members[name])
        else:
            phones.add(name)
    return phones


def _unknown(name: str, entries: Entries, what: str) -> str:
    numbered = next((v.name for v in entries.phone_views if v.extension == name and v.name), None)
    numbered = numbered or next((g.name for g in entries.group_views if g.number == name and g.name), None)
    hint = f"; {name} is the number of {numbered}: write its name" if numbered else ""
    files = PHONES_FILE if what == "phone" else f"{PHONES_FILE} or {GROUPS_FILE}"
    return f"{name!r} is no {what} of the event{hint}: write the name of a {what} ({files})"


def _names(file: SourceFile, views: list[ServiceView]) -> None:
    seen: dict[str, ServiceView] = {}
    for v in views:
        if v.name is None:
            continue
        lower = v.name.lower()
        if v.name in RESERVED_NAMES or lower.startswith(RESERVED_PREFIX):
            file.add((v.kind, v.index, "name"), f"{v.name!r} is reserved for televoc's own config: choose another name")
        elif lower in seen:
            other = seen[lower]
            file.add(
                (v.kind, v.index, "name"),
                f"{v.name!r} is already the name of {file.entry(other.kind, other.index)} (line "
                f"{file.line((other.kind, other.index, 'name'))}): give each service its own name",
            )
        else:
            seen[lower] = v


def _numbers(
    event: Event | None,
    file: SourceFile,
    views: list[ServiceView],
    entries: Entries,
    tests: Mapping[str, str],
    pickup_code: str | None,
) -> None:
    """A service's number is nobody else's, and can be dialled as it is."""
    taken = entries.numbers_taken(tests, pickup_code)
    trunk = event.trunk if event is not None else None
    s = event.self_service if event is not None else None
    ranges = {kind: getattr(s, kind) for kind in ("claimable", "temporary")} if s is not None else {}
    for v in views:
        if v.number is None:
            continue
        where = (v.kind, v.index, "number")
        if v.number in taken:
            file.add(where, f"{v.number!r} is already used by {taken[v.number]}: give each number to one only")
        else:
            taken[v.number] = f"{file.entry(v.kind, v.index)} ({file.name} line {file.line(where)})"
        if trunk is not None and v.number.startswith(trunk.dial_out_prefix):
            file.add(
                where,
                f"{v.number!r} starts with the dial-out prefix {trunk.dial_out_prefix!r} (event.yml "
                "trunk.dial_out_prefix), so dialling it would call out: choose another number",
            )
        for kind, r in ranges.items():
            if v.number in r:
                file.add(
                    where,
                    f"{v.number!r} is inside the {kind} range {r.first}-{r.last} (event.yml self_service): "
                    "choose a number outside it, or move the range",
                )


def _within_venue(event: Event, file: SourceFile, views: list[ServiceView], entries: Entries) -> None:
    """With venues, a service is served by the PBX of its number's venue, which reaches only
    its own phones (a page, an intercom); callers of other venues may page it."""
    venues = event.venues
    numbers = {v.name.lower(): v.extension for v in entries.phone_views if v.name and v.extension}
    # a group's phones are in its venue (the groups' own rule)
    numbers.update({g.name.lower(): g.number for g in entries.group_views if g.name and g.number})
    for v in views:
        if v.number is None:
            continue
        home = venue_of(v.number, venues)
        if home is None:
            listing = ", ".join(f"{n}: {' '.join(x.numbers)}" for n, x in venues.items())
            file.add(
                (v.kind, v.index, "number"),
                f"{v.number!r} is in no venue's numbers ({listing}): give it a number of its venue",
            )
            continue
        reached = (
            v.entry.phones
            if isinstance(v.entry, IntercomEntry)
            else v.entry.members
            if isinstance(v.entry, PagingEntry)
            else ()
        )
        for name in reached:
            ext = numbers.get(name.lower())
            there = venue_of(ext, venues) if ext is not None else None
            if there is not None and there != home:
                file.add(
                    (v.kind, v.index, "phones" if isinstance(v.entry, IntercomEntry) else "members"),
                    f"{name} is in venue {there}, the number {v.number} in venue {home}: a PBX reaches the phones of "
                    f"its own venue only: give it a number of venue {there}, or make one per venue",
                )


def resolve(accounts: Sequence[Account], groups: Sequence[Group], views: Sequence[ServiceView]) -> Services:
    """The valid entries as the model's Services (the directory has no problem left)."""
    by_extension = {a.extension: a.name for a in accounts}
    by_name = {a.name.lower(): a for a in accounts}
    paging, intercoms, conferences = [], [], []
    for v in views:
        e = v.entry
        if isinstance(e, PagingEntry):
            paged = callers(accounts, groups, e.members)
            paging.append(
                Paging(
                    name=e.name,
                    number=e.number,
                    display_name=e.display_name or e.name,
                    phones=tuple((by_extension[x], x) for x in paged),
                    callers=callers(accounts, groups, e.callers) if e.callers else None,
                    in_directory=e.in_directory,
                )
            )
        elif isinstance(e, IntercomEntry):
            a, b = (by_name[n.lower()] for n in e.phones)
            intercoms.append(
                Intercom(
                    name=e.name,
                    number=e.number,
                    ends=((a.name, a.extension), (b.name, b.extension)),
                    display_name=e.display_name or e.name,
                    in_directory=e.in_directory,
                )
            )
        elif isinstance(e, ConferenceEntry):
            conferences.append(
                Conference(
                    name=e.name,
                    number=e.number,
                    display_name=e.display_name or e.name,
                    pin=e.pin,
                    in_directory=e.in_directory,
                )
            )
    return Services(paging=tuple(paging), intercoms=tuple(intercoms), conferences=tuple(conferences))
