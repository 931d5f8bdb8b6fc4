"""The rules across phones and groups (groups.yml, and the routing keys of phones.yml).

Called by load.py with its `_File` objects (which word and place each problem); every problem
is reported, none stops the others. The graph rules (cycles, delays through nested groups)
use routing.py's graph, the same one the dialplan is resolved from.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import TypeAdapter, ValidationError

from . import yamlload
from .messages import shown
from .model import RESERVED_NAMES, RESERVED_PREFIX, GroupEntry
from .routing import (MAX_DIAL_STRING, Leg, Node, _all_phones, cycle_text, expand, expansions, find_cycles,
                      jumps, outside_number)

GROUPS_FILE = "groups.yml"
_GROUP_ENTRIES = TypeAdapter(list[GroupEntry])


def validate_groups(groups: Any) -> list[tuple[int, Any, bool]]:
    """Each group entry on its own: (index, GroupEntry or a dict of its plain values, valid?)."""
    data = groups.data
    for key in data:
        if key != "groups":
            groups.add((key,), f"unknown key: {GROUPS_FILE} takes only 'groups'", key=True)
    entries = data.get("groups")
    if entries is None or entries is yamlload.REFUSED:
        if "groups" not in data:
            groups.add_at(1, "'groups:' is missing: list the groups under it, one '- name: ...' entry each")
        return []
    if not isinstance(entries, list):
        groups.add(("groups",), f"is {shown(entries)}, but it must list the groups, one '- name: ...' entry each")
        return []
    try:
        return [(i, g, True) for i, g in enumerate(_GROUP_ENTRIES.validate_python(entries))]
    except ValidationError:
        pass
    views = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            if entry is not yamlload.REFUSED:
                groups.add(("groups", i), f"is {shown(entry)}, but a group is a mapping of keys: write '- name: ...' "
                           "and its other keys (number, members, ...) indented below")
            continue
        group, bad = groups.validate(GroupEntry, entry, prefix=("groups", i))
        if group is None:
            plain = {k: v for k, v in entry.items() if k not in bad and isinstance(v, (str, int)) and not isinstance(v, bool)}
            views.append((i, plain, False))
        else:
            views.append((i, group, True))
    return views


def _get(v: Any, key: str) -> Optional[str]:
    value = v.get(key) if isinstance(v, dict) else getattr(v, key, None)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) else None


def check_routing(event: Any, ring_timeout: int, pickup_code: Optional[str], tests: dict[str, str],
                  phones: Any, phone_views: list, groups: Any, group_views: list) -> Optional[dict[str, Node]]:
    trunk = event.trunk if event is not None else None
    """Every rule across phones and groups; `tests` maps test numbers to their names. Returns
    the routing graph of the valid entries (None when it has a cycle), for check_venues."""
    # -- names and numbers: phones and groups share both
    names: dict[str, tuple[str, int]] = {}  # lower name -> ("phone"|"group", index)
    # number -> who has it: a phone's index, or its owner in words (worded only when needed)
    numbers: dict[str, Any] = {}
    for i, v, _ in phone_views:
        if v.name is not None:
            names.setdefault(v.name.lower(), ("phone", i))
        if v.extension is not None:
            numbers.setdefault(v.extension, i)
    for number, test in tests.items():
        numbers.setdefault(number, f"the {test} test number")
    if pickup_code is not None:
        if isinstance(numbers.get(pickup_code), int):
            phones.add(("phones", numbers[pickup_code], "extension"), f"{pickup_code!r} is the pickup code (event.yml "
                       "pickup_code): choose another extension, or another pickup_code")
        numbers.setdefault(pickup_code, "the pickup code (event.yml pickup_code)")

    def owner(number: str) -> str:
        who = numbers[number]
        if isinstance(who, int):
            return f"{phones.phone(who)} ({phones.name} line {phones.line(('phones', who, 'extension'))})"
        return who

    for i, g, _ in group_views:
        name, number = _get(g, "name"), _get(g, "number")
        if name is not None:
            lower = name.lower()
            if name in RESERVED_NAMES or lower.startswith(RESERVED_PREFIX):
                groups.add(("groups", i, "name"), f"{name!r} is reserved for televoc's own config: choose another name")
            elif lower in names:
                kind, j = names[lower]
                other = phones.phone(j) if kind == "phone" else groups.entry("groups", j)
                file = phones if kind == "phone" else groups
                groups.add(("groups", i, "name"), f"{name!r} is already the name of {other} ({file.name} line "
                           f"{file.line((kind + 's', j, 'name'))}): forwards and groups refer to names, so "
                           "give each phone and group its own name")
            else:
                names[lower] = ("group", i)
        if number is not None:
            if number in numbers:
                groups.add(("groups", i, "number"), f"{number!r} is already used by {owner(number)}: "
                           "give each phone and group its own number")
            else:
                numbers[number] = f"{groups.entry('groups', i)} ({groups.name} line {groups.line(('groups', i, 'number'))})"

    # -- nodes of the routing graph (valid entries only: the others' problems are reported)
    nodes: dict[str, Node] = {}
    files = {"phone": phones, "group": groups}
    for i, v, valid in phone_views:
        if valid:
            nodes[v.name.lower()] = Node("phone", v.name, v.extension, i, v.forward)
    for i, g, valid in group_views:
        if valid and names.get(g.name.lower()) == ("group", i):
            nodes[g.name.lower()] = Node("group", g.name, g.number, i, g.forward, tuple(g.members),
                                         g.timeout or ring_timeout)

    def path_of(node: Node, where: tuple) -> tuple:
        return (node.kind + "s", node.index, *where)

    def unknown(node: Node, where: tuple, target: str, what: str) -> None:
        if target.lower() in names:  # exists, but its entry has problems of its own
            return
        numbered = next((n for n in nodes.values() if n.number == target), None)
        hint = f"; {target} is the number of {numbered.name}: write its name" if numbered else ""
        files[node.kind].add(path_of(node, where), f"{target!r} is no phone or group of the event{hint}: "
                             f"write the name of the {what} (phones.yml or groups.yml)")

    bad_nodes = set()
    outside: list[tuple[Node, str, str]] = []  # forwards to outside numbers
    for key, node in nodes.items():
        file = files[node.kind]
        seen: dict[str, int] = {}
        for j, m in enumerate(node.members):
            if m.name.lower() == key:
                file.add(path_of(node, ("members", j, "name")), f"{m.name!r} is the group itself: a group cannot be its "
                         "own member: remove it")
                bad_nodes.add(key)
            elif m.name.lower() not in nodes:
                unknown(node, ("members", j, "name"), m.name, "member")
                bad_nodes.add(key)
            if m.name.lower() in seen:
                file.add(path_of(node, ("members", j, "name")), f"{m.name!r} is already member {seen[m.name.lower()] + 1} "
                         "of this group: list each member once")
            else:
                seen[m.name.lower()] = j
            if m.delay >= node.timeout:
                file.add(path_of(node, ("members", j, "delay")), f"{m.delay} s is not below the group's timeout "
                         f"({node.timeout} s), so {m.name} would never ring: lower the delay or raise the group's timeout")
        f = node.forward
        if f is None:
            continue
        for kind, target in f.targets():
            if target.lower() == key:
                file.add(path_of(node, ("forward", kind)), f"{target!r} is the {node.kind} itself: a forward to itself "
                         "goes nowhere: name another phone or group, or delete the line")
                bad_nodes.add(key)
            elif outside_number(target, trunk) is not None:
                if target.lower() in names:
                    file.add(path_of(node, ("forward", kind)), f"{target!r} is both an outside number (it begins with "
                             f"the dial-out prefix {trunk.dial_out_prefix!r}) and the name of a phone or group: "
                             "rename that phone or group")
                    bad_nodes.add(key)
                else:
                    outside.append((node, kind, target))
            elif target.lower() not in nodes:
                unknown(node, ("forward", kind), target, "phone or group to forward to")
                bad_nodes.add(key)
        if f.always and (f.busy or f.no_answer or f.unavailable):
            others = ", ".join(k for k in ("no_answer", "busy", "unavailable") if getattr(f, k))
            file.add(path_of(node, ("forward", "always")), f"always sends every call on, so {others} would never "
                     f"happen: keep always, or delete it and keep {others}")
        if f.no_answer_after is not None and not f.no_answer:
            file.add(path_of(node, ("forward", "no_answer_after")), "says how long to ring before the no_answer "
                     "forward, but there is no no_answer: add no_answer (a phone or group) or delete no_answer_after")
        elif f.no_answer_after is not None and node.kind == "group":
            file.add(path_of(node, ("forward", "no_answer_after")), "a group rings for its timeout, then its no_answer "
                     "forward takes the call: set the group's timeout instead, and delete no_answer_after")

    for i, v, valid in phone_views:
        if valid:
            for j, name in enumerate(v.loud_from):
                if name.lower() not in nodes and name.lower() not in names:
                    unknown(nodes[v.name.lower()], ("loud_from", j), name, "phone or group whose calls ring loud")

    # -- cycles (only among entries whose names all resolve)
    clean = {k: n for k, n in nodes.items() if k not in bad_nodes}
    # A call jumps along forwards; a group expands along members and `always` forwards. A
    # member's other forwards do not apply inside a group, so a forward to a group that has
    # the phone as a member (desk1 no_answer -> infodesk) is no cycle: it rings desk1 again.
    cycles, seen_cycles = [], set()
    for edges in (jumps, expansions):
        for cycle in find_cycles(clean, edges):
            key = frozenset((step[0], step[1]) for step in cycle)
            if key not in seen_cycles:
                seen_cycles.add(key)
                cycles.append(cycle)
    for cycle in cycles:
        start, label, where = cycle[0]
        node = clean[start]
        field = (where[0], where[1], "name") if where[0] == "members" else where
        files[node.kind].add(path_of(node, field), f"a cycle: {cycle_text(cycle, clean)}: a call would go round "
                             "for ever: remove one of these members or forwards")

    # -- resolved groups: delays through nested groups, the dial string's length
    if not cycles:
        for key, node in clean.items():
            if node.kind != "group":
                continue
            resolved = expand(clean, node.name)
            # (a direct member's delay is checked above; these are reached through nesting)
            late = [(d, p) for d, p in resolved.values() if d >= node.timeout and len(p) > 2]
            if late:
                delay, path = min(late, key=lambda x: x[0])
                groups.add(("groups", node.index, "timeout"), f"{node.timeout} s is not above the {delay} s after which "
                           f"{' -> '.join(path)} would ring (the delays add up), so it never rings: "
                           "raise the timeout or lower the delays")
            dial = "&".join(Leg(clean[n].name, clean[n].number, d).dial for n, (d, _) in resolved.items())
            if len(dial) > MAX_DIAL_STRING:
                groups.add(("groups", node.index, "members"), f"rings {len(resolved)} phones at once, more than "
                           "Asterisk takes in one call: split it into groups that ring one after the other "
                           "(a group can be a member with a delay)")

    if outside:
        _outside_forwards(trunk, outside, clean, files)
    pickup_rule(phones, phone_views)
    return None if cycles else clean


def _outside_forwards(trunk: Any, outside: list, nodes: dict[str, Node], files: dict) -> None:
    """A forward to an outside number goes out over the trunk at the cost of the phone or
    group that forwards: it must be one that may call out (trunk.dial_out). An `always` forward
    out cannot ring as a group's member."""
    named = {n.lower() for n in trunk.dial_out} if trunk.dial_out != "all" else None
    in_named_group = set()
    if named is not None:
        for name in named:
            node = nodes.get(name)
            if node is not None and node.kind == "group":
                in_named_group |= _all_phones(nodes, node.name)
    members = {m.name.lower() for n in nodes.values() for m in n.members}
    for node, kind, target in outside:
        where = (node.kind + "s", node.index, "forward", kind)
        key = node.name.lower()
        if named is not None and key not in named and key not in in_named_group:
            files[node.kind].add(where, f"{target!r} is an outside number, and a forward out is a call out at the "
                                 f"{node.kind}'s cost, but trunk.dial_out does not name {node.name}: add it to "
                                 "dial_out, or forward to a phone or group")
        if kind == "always" and key in members:
            files[node.kind].add(where, f"{target!r} is an outside number, and {node.name} is a group's member: a "
                                 "group rings phones, not outside numbers: forward the group itself, or remove "
                                 "the member")


def pickup_rule(phones: Any, phone_views: list) -> None:
    """Pickup groups: answering each other's calls needs two phones at least."""
    pickups: dict[str, list[int]] = {}
    for i, v, valid in phone_views:
        if valid and v.pickup:
            pickups.setdefault(v.pickup, []).append(i)
    for pickup, members in pickups.items():
        if len(members) == 1:
            phones.add(("phones", members[0], "pickup"), f"{pickup!r} has no other phone: phones in a pickup group "
                       "answer each other's calls, so it needs two at least: give another phone the same pickup "
                       "or delete it")


def check_trunk(trunk: Any, event_file: Any, phones: Any, phone_views: list, groups: Any, group_views: list,
                tests: dict[str, str], pickup_code: Optional[str]) -> None:
    """The trunk's rules across the directory: dial_out names exist; no internal number starts
    with the dial-out prefix (a phone could not reach it, or an outside number would be cut)."""
    prefix = trunk.dial_out_prefix
    names = {v.name.lower() for _, v, _ in phone_views if v.name} | {
        (_get(g, "name") or "").lower() for _, g, _ in group_views}
    if trunk.dial_out != "all":
        for j, name in enumerate(trunk.dial_out):
            if name.lower() not in names:
                event_file.add(("trunk", "dial_out", j), f"{name!r} is no phone or group of the event: write the name "
                               "of a phone or group whose phones may call out, or 'all'")
    for i, v, _ in phone_views:
        if v.extension is not None and v.extension.startswith(prefix):
            phones.add(("phones", i, "extension"), f"{v.extension!r} starts with the dial-out prefix {prefix!r} "
                       "(event.yml trunk.dial_out_prefix), so dialling it would call out: choose another "
                       "extension, or another dial_out_prefix")
    for i, g, _ in group_views:
        number = _get(g, "number")
        if number is not None and number.startswith(prefix):
            groups.add(("groups", i, "number"), f"{number!r} starts with the dial-out prefix {prefix!r} (event.yml "
                       "trunk.dial_out_prefix), so dialling it would call out: choose another number")
    for number, what in [*tests.items(), *([(pickup_code, "pickup_code")] if pickup_code else [])]:
        if number.startswith(prefix):
            event_file.add(("trunk", "dial_out_prefix"), f"{prefix!r} begins the {what} number {number!r}, so "
                           "dialling it would call out: choose another dial_out_prefix or another number")



def venue_of(number: str, venues: dict) -> Optional[str]:
    """The venue whose prefixes `number` starts with (prefixes never overlap), or None."""
    return next((name for name, v in venues.items() if any(number.startswith(p) for p in v.numbers)), None)


def check_venues(event: Any, event_file: Any, phones: Any, phone_views: list, groups: Any, group_views: list,
                 nodes: Optional[dict[str, Node]]) -> None:
    """Several venues: prefixes that never overlap, every number in one venue, groups and
    pickup groups within their venue, the trunk at a venue."""
    venues = event.venues
    trunk = event.trunk
    if not venues:
        if trunk is not None and trunk.venue is not None:
            event_file.add(("trunk", "venue"), f"{trunk.venue!r} names a venue, but event.yml has no venues: "
                           "delete the line, or declare venues")
        return
    seen: dict[str, str] = {}
    addresses: dict[str, str] = {}
    for name, venue in venues.items():
        for j, prefix in enumerate(venue.numbers):
            for other_prefix, other in seen.items():
                if prefix.startswith(other_prefix) or other_prefix.startswith(prefix):
                    event_file.add(("venues", name, "numbers", j), f"{prefix!r} overlaps {other_prefix!r} of venue "
                                   f"{other}: every number must belong to one venue: choose prefixes that do not "
                                   "begin one another")
            seen.setdefault(prefix, name)
        if venue.address in addresses:
            event_file.add(("venues", name, "address"), f"{venue.address} is already the address of venue "
                           f"{addresses[venue.address]}: each venue's PBX has its own")
        addresses.setdefault(venue.address, name)
    if trunk is not None and trunk.venue not in venues:
        what = f"{trunk.venue!r} is no venue" if trunk.venue else "is missing"
        event_file.add(("trunk", "venue") if trunk.venue else ("trunk",),
                       f"trunk.venue {what}: with venues, name the venue whose PBX registers the trunk "
                       f"({', '.join(venues)})")
    listing = ", ".join(f"{n}: {' '.join(v.numbers)}" for n, v in venues.items())
    venue_by_name: dict[str, str] = {}
    for i, v, _ in phone_views:
        if v.extension is None:
            continue
        where = venue_of(v.extension, venues)
        if where is None:
            phones.add(("phones", i, "extension"), f"{v.extension!r} is in no venue's numbers ({listing}): give it "
                       "a number of its venue, or add the prefix to a venue's numbers")
        elif v.name:
            venue_by_name[v.name.lower()] = where
    for i, g, _ in group_views:
        number = _get(g, "number")
        if number is None:
            continue
        where = venue_of(number, venues)
        if where is None:
            groups.add(("groups", i, "number"), f"{number!r} is in no venue's numbers ({listing}): give it a number "
                       "of its venue, or add the prefix to a venue's numbers")
        elif _get(g, "name"):
            venue_by_name[_get(g, "name").lower()] = where
    if nodes is not None:
        for key, node in nodes.items():
            if node.kind != "group" or key not in venue_by_name:
                continue
            home = venue_by_name[key]
            away = [(path, venue_by_name.get(n)) for n, (_, path) in expand(nodes, node.name).items()
                    if venue_by_name.get(n) not in (home, None)]
            if away:
                path, venue = away[0]
                groups.add(("groups", node.index, "members"), f"{' -> '.join(path)} is in venue {venue}, the group in "
                           f"venue {home}: a group rings the phones of its own venue: make a group in {venue} and "
                           "forward to it")
    pickups: dict[str, set[str]] = {}
    for i, v, valid in phone_views:
        if valid and v.pickup and v.name and v.name.lower() in venue_by_name:
            pickups.setdefault(v.pickup, set()).add(venue_by_name[v.name.lower()])
    for i, v, valid in phone_views:
        if valid and v.pickup and len(pickups.get(v.pickup, ())) > 1:
            phones.add(("phones", i, "pickup"), f"{v.pickup!r} has phones in venues {', '.join(sorted(pickups[v.pickup]))}: "
                       "a pickup group works within one PBX: give each venue its own pickup group")
    if trunk is not None and trunk.venue in venues:
        for i, v, valid in phone_views:
            f = getattr(v, "forward", None) if valid else None
            for kind, target in (f.targets() if f is not None else []):
                here = venue_by_name.get(v.name.lower())
                if outside_number(target, trunk) is not None and here not in (trunk.venue, None):
                    phones.add(("phones", i, "forward", kind), f"{target!r} is an outside number, but the trunk is "
                               f"at venue {trunk.venue} and {v.name} at {here}: forward to a phone or group")
        for i, g, valid in group_views:
            f = g.forward if valid else None
            for kind, target in (f.targets() if f is not None else []):
                here = venue_by_name.get(g.name.lower())
                if outside_number(target, trunk) is not None and here not in (trunk.venue, None):
                    groups.add(("groups", i, "forward", kind), f"{target!r} is an outside number, but the trunk is "
                               f"at venue {trunk.venue} and {g.name} at {here}: forward to a phone or group")
