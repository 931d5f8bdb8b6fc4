"""The rules across phones and groups (groups.yml, and the routing keys of phones.yml), the
trunk's and the venues'.

Called by load.py with the SourceFiles (which word and place each problem) and the views of
every entry (entries.py); every problem is reported, none stops the others. The graph rules
(cycles, delays through nested groups) use routing.py's graph, the same one the dialplan is
resolved from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from roles.shared.names import RESERVED_NAMES, RESERVED_PREFIX

from .entries import GroupView, PhoneView
from .model import Event, Forward, Trunk, ring_seconds
from .routing import (
    MAX_DIAL_STRING,
    Leg,
    Node,
    _all_phones,
    cycle_text,
    expand,
    expansions,
    find_cycles,
    jumps,
    outside_number,
)
from .sources import SourceFile
from .venues import venue_of

Graph = dict[str, Node]  # lower-case name -> node


@dataclass
class Entries:
    """The phone and group entries the rules look at, with their files."""

    phones: SourceFile
    phone_views: list[PhoneView]
    groups: SourceFile
    group_views: list[GroupView]

    def file(self, kind: str) -> SourceFile:
        return self.phones if kind == "phone" else self.groups

    def numbers_taken(self, tests: Mapping[str, str], pickup_code: str | None) -> dict[str, str]:
        """Who has each number among the phones, the groups, the test numbers (`tests`:
        number -> its name) and the pickup code, in words for a problem: 'phone 1 (a1)
        (phones.yml line 5)' (the first of several, when they share one)."""
        phones, groups = self.phones, self.groups
        taken: dict[str, str] = {}
        for p in self.phone_views:
            if p.extension is not None:
                line = phones.line(("phones", p.index, "extension"))
                taken.setdefault(p.extension, f"{phones.phone(p.index)} ({phones.name} line {line})")
        for g in self.group_views:
            if g.number is not None:
                line = groups.line(("groups", g.index, "number"))
                taken.setdefault(g.number, f"{groups.entry('groups', g.index)} ({groups.name} line {line})")
        for number, test in tests.items():
            taken.setdefault(number, f"the {test} test number")
        if pickup_code is not None:
            taken.setdefault(pickup_code, "the pickup code (event.yml pickup_code)")
        return taken


@dataclass
class _Names:
    """Who has each name and each number: phones and groups share both."""

    names: dict[str, tuple[str, int]] = field(default_factory=dict)  # lower name -> ("phone"|"group", index)
    # number -> who has it: a phone's index, or its owner in words (worded only when needed)
    numbers: dict[str, int | str] = field(default_factory=dict)


def check_routing(
    event: Event | None, ring_timeout: int, pickup_code: str | None, tests: dict[str, str], entries: Entries
) -> Graph | None:
    """Every rule across phones and groups; `tests` maps test numbers to their names. Returns
    the routing graph of the valid entries (None when it has a cycle), for check_venues."""
    trunk = event.trunk if event is not None else None
    taken = _names_and_numbers(pickup_code, tests, entries)
    nodes = _graph(ring_timeout, taken, entries)
    announcements = {a.name.lower() for a in event.announcements} if event is not None else set()
    bad = _members_and_forwards(trunk, taken, nodes, entries, announcements)
    clean = _followable(nodes, bad.nodes)
    cycles = _cycles(clean, entries)
    if not cycles:
        _resolved_groups(clean, entries)
    if trunk is not None:
        _outside_forwards(trunk, bad.outside, clean, entries)
    pickup_rule(entries.phones, entries.phone_views)
    return None if cycles else clean


def _names_and_numbers(pickup_code: str | None, tests: dict[str, str], entries: Entries) -> _Names:
    """Names and numbers taken; a group's name or number that is already taken is reported."""
    phones, groups = entries.phones, entries.groups
    taken = _Names()
    names, numbers = taken.names, taken.numbers
    for v in entries.phone_views:
        if v.name is not None:
            names.setdefault(v.name.lower(), ("phone", v.index))
        if v.extension is not None:
            numbers.setdefault(v.extension, v.index)
    for number, test in tests.items():
        numbers.setdefault(number, f"the {test} test number")
    if pickup_code is not None:
        who = numbers.get(pickup_code)
        if isinstance(who, int):
            phones.add(
                ("phones", who, "extension"),
                f"{pickup_code!r} is the pickup code (event.yml "
                "pickup_code): choose another extension, or another pickup_code",
            )
        numbers.setdefault(pickup_code, "the pickup code (event.yml pickup_code)")

    def owner(number: str) -> str:
        who = numbers[number]
        if isinstance(who, int):
            return f"{phones.phone(who)} ({phones.name} line {phones.line(('phones', who, 'extension'))})"
        return who

    for g in entries.group_views:
        i, name, group_number = g.index, g.name, g.number
        if name is not None:
            lower = name.lower()
            if name in RESERVED_NAMES or lower.startswith(RESERVED_PREFIX):
                groups.add(("groups", i, "name"), f"{name!r} is reserved for televoc's own config: choose another name")
            elif lower in names:
                kind, j = names[lower]
                other = phones.phone(j) if kind == "phone" else groups.entry("groups", j)
                file = entries.file(kind)
                groups.add(
                    ("groups", i, "name"),
                    f"{name!r} is already the name of {other} ({file.name} line "
                    f"{file.line((kind + 's', j, 'name'))}): forwards and groups refer to names, so "
                    "give each phone and group its own name",
                )
            else:
                names[lower] = ("group", i)
        if group_number is not None:
            if group_number in numbers:
                groups.add(
                    ("groups", i, "number"),
                    f"{group_number!r} is already used by {owner(group_number)}: give each phone and group its "
                    "own number",
                )
            else:
                numbers[group_number] = (
                    f"{groups.entry('groups', i)} ({groups.name} line {groups.line(('groups', i, 'number'))})"
                )
    return taken


def _graph(ring_timeout: int, taken: _Names, entries: Entries) -> Graph:
    """The nodes of the routing graph: valid entries only (the others' problems are reported)."""
    nodes: Graph = {}
    for v in entries.phone_views:
        if v.entry is not None:
            p = v.entry
            nodes[p.name.lower()] = Node("phone", p.name, p.extension, v.index, p.forward)
    for gv in entries.group_views:
        if gv.entry is not None and taken.names.get(gv.entry.name.lower()) == ("group", gv.index):
            g = gv.entry
            nodes[g.name.lower()] = Node(
                "group",
                g.name,
                g.number,
                gv.index,
                g.forward,
                tuple(g.members),
                ring_seconds(ring_timeout, timeout=g.timeout),
            )
    return nodes


def _followable(nodes: Graph, bad: set[str]) -> Graph:
    """The nodes whose members can all be followed: not bad themselves, and no member (through
    nested groups) bad either; each bad one is reported already. Linear: each node is left
    out once, and only its groups are looked at again."""
    members_of: dict[str, list[str]] = {}  # member -> the groups it is a member of
    for key, node in nodes.items():
        for m in node.members:
            members_of.setdefault(m.name.lower(), []).append(key)
    clean = dict(nodes)
    todo = [key for key in nodes if key in bad]
    while todo:
        key = todo.pop()
        if clean.pop(key, None) is not None:
            todo.extend(members_of.get(key, ()))
    return clean


def _where(node: Node, *inside: str | int) -> tuple:
    """The path of a value of `node`'s entry in its file."""
    return (node.kind + "s", node.index, *inside)


@dataclass
class _Bad:
    """The nodes (lower names) whose members or forwards name what cannot be followed, and
    the forwards to outside numbers (node, kind, target), checked against the trunk."""

    nodes: set[str] = field(default_factory=set)
    outside: list[tuple[Node, str, str]] = field(default_factory=list)


def _unknown(node: Node, where: tuple, target: str, what: str, taken: _Names, nodes: Graph, entries: Entries) -> None:
    if target.lower() in taken.names:  # exists, but its entry has problems of its own
        return
    numbered = next((n for n in nodes.values() if n.number == target), None)
    hint = f"; {target} is the number of {numbered.name}: write its name" if numbered else ""
    entries.file(node.kind).add(
        _where(node, *where),
        f"{target!r} is no phone or group of the event{hint}: write the name of the {what} (phones.yml or groups.yml)",
    )


def _members_and_forwards(
    trunk: Trunk | None, taken: _Names, nodes: Graph, entries: Entries, announcements: set[str]
) -> _Bad:
    """Each node's members and forwards: they exist, are not the node itself, are listed
    once; a delay below the group's timeout; forwards that can happen; loud_from exists. A
    forward may also name an announcement (`announcements`: their lower-case names)."""
    bad = _Bad()
    for key, node in nodes.items():
        _members(key, node, taken, nodes, entries, bad)
        if node.forward is not None:
            _forwards(key, node, node.forward, trunk, taken, nodes, entries, bad, announcements)
    for v in entries.phone_views:
        if v.entry is not None:
            for j, name in enumerate(v.entry.loud_from):
                if name.lower() not in nodes and name.lower() not in taken.names:
                    _unknown(
                        nodes[v.entry.name.lower()],
                        ("loud_from", j),
                        name,
                        "phone or group whose calls ring loud",
                        taken,
                        nodes,
                        entries,
                    )
    return bad


def _members(key: str, node: Node, taken: _Names, nodes: Graph, entries: Entries, bad: _Bad) -> None:
    file = entries.file(node.kind)
    seen: dict[str, int] = {}
    for j, m in enumerate(node.members):
        if m.name.lower() == key:
            file.add(
                _where(node, "members", j, "name"),
                f"{m.name!r} is the group itself: a group cannot be its own member: remove it",
            )
            bad.nodes.add(key)
        elif m.name.lower() not in nodes:
            _unknown(node, ("members", j, "name"), m.name, "member", taken, nodes, entries)
            bad.nodes.add(key)
        if m.name.lower() in seen:
            file.add(
                _where(node, "members", j, "name"),
                f"{m.name!r} is already member {seen[m.name.lower()] + 1} of this group: list each member once",
            )
        else:
            seen[m.name.lower()] = j
        if m.delay >= node.timeout:
            file.add(
                _where(node, "members", j, "delay"),
                f"{m.delay} s is not below the group's timeout "
                f"({node.timeout} s), so {m.name} would never ring: lower the delay or raise the group's timeout",
            )


def _forwards(
    key: str,
    node: Node,
    f: Forward,
    trunk: Trunk | None,
    taken: _Names,
    nodes: Graph,
    entries: Entries,
    bad: _Bad,
    announcements: set[str],
) -> None:
    file = entries.file(node.kind)
    for kind, target in f.targets():
        if target.lower() == key:
            file.add(
                _where(node, "forward", kind),
                f"{target!r} is the {node.kind} itself: a forward to itself "
                "goes nowhere: name another phone or group, or delete the line",
            )
            bad.nodes.add(key)
        elif trunk is not None and outside_number(target, trunk) is not None:
            if target.lower() in taken.names:
                file.add(
                    _where(node, "forward", kind),
                    f"{target!r} is both an outside number (it begins with "
                    f"the dial-out prefix {trunk.dial_out_prefix!r}) and the name of a phone or group: "
                    "rename that phone or group",
                )
                bad.nodes.add(key)
            else:
                bad.outside.append((node, kind, target))
        elif target.lower() not in nodes and target.lower() not in announcements:
            _unknown(node, ("forward", kind), target, "phone or group to forward to", taken, nodes, entries)
            bad.nodes.add(key)
    if f.always and (f.busy or f.no_answer or f.unavailable):
        others = ", ".join(k for k in ("no_answer", "busy", "unavailable") if getattr(f, k))
        file.add(
            _where(node, "forward", "always"),
            f"always sends every call on, so {others} would never happen: keep always, or delete it and keep {others}",
        )
    if f.no_answer_after is not None and not f.no_answer:
        file.add(
            _where(node, "forward", "no_answer_after"),
            "says how long to ring before the no_answer "
            "forward, but there is no no_answer: add no_answer (a phone or group) or delete no_answer_after",
        )
    elif f.no_answer_after is not None and node.kind == "group":
        file.add(
            _where(node, "forward", "no_answer_after"),
            "a group rings for its timeout, then its no_answer "
            "forward takes the call: set the group's timeout instead, and delete no_answer_after",
        )


def _cycles(clean: Graph, entries: Entries) -> list:
    """Cycles among entries whose names all resolve, each reported once with its path.

    A call jumps along forwards; a group expands along members and `always` forwards. A
    member's other forwards do not apply inside a group, so a forward to a group that has the
    phone as a member (desk1 no_answer -> infodesk) is no cycle: it rings desk1 again."""
    cycles, seen = [], set()
    for edges in (jumps, expansions):
        for cycle in find_cycles(clean, edges):
            key = frozenset((step[0], step[1]) for step in cycle)
            if key not in seen:
                seen.add(key)
                cycles.append(cycle)
    for cycle in cycles:
        start, _label, where = cycle[0]
        node = clean[start]
        at = (where[0], where[1], "name") if where[0] == "members" else where
        entries.file(node.kind).add(
            _where(node, *at),
            f"a cycle: {cycle_text(cycle, clean)}: a call would go "
            "round for ever: remove one of these members or forwards",
        )
    return cycles


def _resolved_groups(clean: Graph, entries: Entries) -> None:
    """Each group resolved to the phones it rings: delays through nested groups below its
    timeout, a dial string Asterisk takes."""
    groups = entries.groups
    for node in clean.values():
        if node.kind != "group":
            continue
        resolved = expand(clean, node.name)
        # (a direct member's delay is checked by _members; these are reached through nesting)
        late = [(d, p) for d, p in resolved.values() if d >= node.timeout and len(p) > 2]
        if late:
            delay, path = min(late, key=lambda x: x[0])
            groups.add(
                ("groups", node.index, "timeout"),
                f"{node.timeout} s is not above the {delay} s after which "
                f"{' -> '.join(path)} would ring (the delays add up), so it never rings: "
                "raise the timeout or lower the delays",
            )
        dial = "&".join(Leg(clean[n].name, clean[n].number or "", d).dial for n, (d, _) in resolved.items())
        if len(dial) > MAX_DIAL_STRING:
            groups.add(
                ("groups", node.index, "members"),
                f"rings {len(resolved)} phones at once, more than "
                "Asterisk takes in one call: split it into groups that ring one after the other "
                "(a group can be a member with a delay)",
            )


def _outside_forwards(trunk: Trunk, outside: list[tuple[Node, str, str]], nodes: Graph, entries: Entries) -> None:
    """A forward to an outside number goes out over the trunk at the cost of the phone or
    group that forwards: it must be one that may call out (trunk.dial_out). An `always` forward
    out cannot ring as a group's member."""
    if not outside:
        return
    named = {n.lower() for n in trunk.dial_out} if trunk.dial_out != "all" else None
    in_named_group: set[str] = set()
    if named is not None:
        for name in named:
            node = nodes.get(name)
            if node is not None and node.kind == "group":
                in_named_group |= _all_phones(nodes, node.name)
    members = {m.name.lower() for n in nodes.values() for m in n.members}
    for node, kind, target in outside:
        where = _where(node, "forward", kind)
        key = node.name.lower()
        file = entries.file(node.kind)
        if named is not None and key not in named and key not in in_named_group:
            file.add(
                where,
                f"{target!r} is an outside number, and a forward out is a call out at the "
                f"{node.kind}'s cost, but trunk.dial_out does not name {node.name}: add it to "
                "dial_out, or forward to a phone or group",
            )
        if kind == "always" and key in members:
            file.add(
                where,
                f"{target!r} is an outside number, and {node.name} is a group's member: a "
                "group rings phones, not outside numbers: forward the group itself, or remove "
                "the member",
            )


def pickup_rule(phones: SourceFile, phone_views: list[PhoneView]) -> None:
    """Pickup groups: answering each other's calls needs two phones at least."""
    pickups: dict[str, list[int]] = {}
    for v in phone_views:
        if v.entry is not None and v.entry.pickup:
            pickups.setdefault(v.entry.pickup, []).append(v.index)
    for pickup, members in pickups.items():
        if len(members) == 1:
            phones.add(
                ("phones", members[0], "pickup"),
                f"{pickup!r} has no other phone: phones in a pickup group "
                "answer each other's calls, so it needs two at least: give another phone the same pickup "
                "or delete it",
            )


def check_trunk(
    trunk: Trunk, event_file: SourceFile, entries: Entries, tests: dict[str, str], pickup_code: str | None
) -> None:
    """The trunk's rules across the directory: dial_out names exist; no internal number starts
    with the dial-out prefix (a phone could not reach it, or an outside number would be cut)."""
    prefix = trunk.dial_out_prefix
    names = {v.name.lower() for v in entries.phone_views if v.name} | {
        (g.name or "").lower() for g in entries.group_views
    }
    if trunk.dial_out != "all":
        for j, name in enumerate(trunk.dial_out):
            if name.lower() not in names:
                event_file.add(
                    ("trunk", "dial_out", j),
                    f"{name!r} is no phone or group of the event: write the name "
                    "of a phone or group whose phones may call out, or 'all'",
                )
    for v in entries.phone_views:
        if v.extension is not None and v.extension.startswith(prefix):
            entries.phones.add(
                ("phones", v.index, "extension"),
                f"{v.extension!r} starts with the dial-out prefix "
                f"{prefix!r} (event.yml trunk.dial_out_prefix), so dialling it would call out: choose "
                "another extension, or another dial_out_prefix",
            )
    for g in entries.group_views:
        if g.number is not None and g.number.startswith(prefix):
            entries.groups.add(
                ("groups", g.index, "number"),
                f"{g.number!r} starts with the dial-out prefix {prefix!r} "
                "(event.yml trunk.dial_out_prefix), so dialling it would call out: choose another "
                "number",
            )
    for number, what in [*tests.items(), *([(pickup_code, "pickup_code")] if pickup_code else [])]:
        if number.startswith(prefix):
            event_file.add(
                ("trunk", "dial_out_prefix"),
                f"{prefix!r} begins the {what} number {number!r}, so "
                "dialling it would call out: choose another dial_out_prefix or another number",
            )


def check_venues(event: Event, event_file: SourceFile, entries: Entries, nodes: Graph | None) -> None:
    """Several venues: prefixes that never overlap, every number in one venue, groups and
    pickup groups within their venue, the trunk at a venue."""
    trunk = event.trunk
    if not event.venues:
        if trunk is not None and trunk.venue is not None:
            event_file.add(
                ("trunk", "venue"),
                f"{trunk.venue!r} names a venue, but event.yml has no venues: delete the line, or declare venues",
            )
        return
    _prefixes_and_addresses(event, event_file)
    venue_by_name = _venue_of_each(event, entries)
    if nodes is not None:
        _groups_within_their_venue(nodes, venue_by_name, entries)
    _pickups_within_one_venue(venue_by_name, entries)
    if trunk is not None and trunk.venue in event.venues:
        _forwards_out_at_the_trunks_venue(trunk, venue_by_name, entries)


def _prefixes_and_addresses(event: Event, event_file: SourceFile) -> None:
    venues, trunk = event.venues, event.trunk
    seen: dict[str, str] = {}
    addresses: dict[str, str] = {}
    for name, venue in venues.items():
        for j, prefix in enumerate(venue.numbers):
            for other_prefix, other in seen.items():
                if prefix.startswith(other_prefix) or other_prefix.startswith(prefix):
                    event_file.add(
                        ("venues", name, "numbers", j),
                        f"{prefix!r} overlaps {other_prefix!r} of venue "
                        f"{other}: every number must belong to one venue: choose prefixes that do not "
                        "begin one another",
                    )
            seen.setdefault(prefix, name)
        if venue.address in addresses:
            event_file.add(
                ("venues", name, "address"),
                f"{venue.address} is already the address of venue "
                f"{addresses[venue.address]}: each venue's PBX has its own",
            )
        addresses.setdefault(venue.address, name)
    if trunk is not None and trunk.venue not in venues:
        what = f"{trunk.venue!r} is no venue" if trunk.venue else "is missing"
        event_file.add(
            ("trunk", "venue") if trunk.venue else ("trunk",),
            f"trunk.venue {what}: with venues, name the venue whose PBX registers the trunk ({', '.join(venues)})",
        )


def _venue_of_each(event: Event, entries: Entries) -> dict[str, str]:
    """lower name -> venue of each phone and group; a number in no venue is reported."""
    venues = event.venues
    listing = ", ".join(f"{n}: {' '.join(v.numbers)}" for n, v in venues.items())
    venue_by_name: dict[str, str] = {}
    for v in entries.phone_views:
        if v.extension is None:
            continue
        where = venue_of(v.extension, venues)
        if where is None:
            entries.phones.add(
                ("phones", v.index, "extension"),
                f"{v.extension!r} is in no venue's numbers "
                f"({listing}): give it a number of its venue, or add the prefix to a venue's numbers",
            )
        elif v.name:
            venue_by_name[v.name.lower()] = where
    for g in entries.group_views:
        if g.number is None:
            continue
        where = venue_of(g.number, venues)
        if where is None:
            entries.groups.add(
                ("groups", g.index, "number"),
                f"{g.number!r} is in no venue's numbers ({listing}): "
                "give it a number of its venue, or add the prefix to a venue's numbers",
            )
        elif g.name:
            venue_by_name[g.name.lower()] = where
    return venue_by_name


def _groups_within_their_venue(nodes: Graph, venue_by_name: dict[str, str], entries: Entries) -> None:
    for key, node in nodes.items():
        if node.kind != "group" or key not in venue_by_name:
            continue
        home = venue_by_name[key]
        away = [
            (path, venue_by_name.get(n))
            for n, (_, path) in expand(nodes, node.name).items()
            if venue_by_name.get(n) not in (home, None)
        ]
        if away:
            path, venue = away[0]
            entries.groups.add(
                ("groups", node.index, "members"),
                f"{' -> '.join(path)} is in venue {venue}, the "
                f"group in venue {home}: a group rings the phones of its own venue: make a group in "
                f"{venue} and forward to it",
            )


def _pickups_within_one_venue(venue_by_name: dict[str, str], entries: Entries) -> None:
    pickups: dict[str, set[str]] = {}
    for v in entries.phone_views:
        if v.entry is not None and v.entry.pickup and v.entry.name.lower() in venue_by_name:
            pickups.setdefault(v.entry.pickup, set()).add(venue_by_name[v.entry.name.lower()])
    for v in entries.phone_views:
        if v.entry is not None and v.entry.pickup and len(pickups.get(v.entry.pickup, ())) > 1:
            entries.phones.add(
                ("phones", v.index, "pickup"),
                f"{v.entry.pickup!r} has phones in venues "
                f"{', '.join(sorted(pickups[v.entry.pickup]))}: a pickup group works within one PBX: "
                "give each venue its own pickup group",
            )


def _forwards_out_at_the_trunks_venue(trunk: Trunk, venue_by_name: dict[str, str], entries: Entries) -> None:
    owners: list[tuple[SourceFile, tuple, str, Forward | None]] = [
        (entries.phones, ("phones", v.index), v.entry.name, v.entry.forward)
        for v in entries.phone_views
        if v.entry is not None
    ] + [
        (entries.groups, ("groups", g.index), g.entry.name, g.entry.forward)
        for g in entries.group_views
        if g.entry is not None
    ]
    for file, path, name, f in owners:
        for kind, target in f.targets() if f is not None else []:
            here = venue_by_name.get(name.lower())
            if outside_number(target, trunk) is not None and here not in (trunk.venue, None):
                file.add(
                    (*path, "forward", kind),
                    f"{target!r} is an outside number, but the trunk is "
                    f"at venue {trunk.venue} and {name} at {here}: forward to a phone or group",
                )
