"""Self-service (`self_service:` in event.yml): its rules across the event directory, and the
arithmetic of number ranges they and the dialplan share.

The rules, each problem reported with the others (sources.py says how): a range's numbers
all have one length and it is not empty; the claimable and the temporary range share no
number; no crew phone, group, test number or pickup code lies inside either range (the
problem names the entry and the range, with both lines); the claim code begins no number of
the event and no number begins it; the info desk and `temporary_may_call` name phones or
groups of the event; with a trunk, no number of a range begins with the dial-out prefix; with
venues, both ranges lie within the numbers of the venue that serves self-service.

`check_claims` is the hook for the rule that needs the PBX: once participants have claimed
numbers, a crew number that is a claimed one is refused, naming the claim (never taken over).
The claims live in the PBX's database (roles/selfservice); a deploy reads them and, when a
crew number is one of them, `load_directory(path, claims=...)` runs the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .checks import Entries
from .model import Directory, Event, NumberRange, SelfService
from .sources import EVENT_FILE, SourceFile

RANGES = ("claimable", "temporary")
# What each range is kept for, in a problem that names it.
KEPT_FOR = {"claimable": "which participants claim", "temporary": "given to phones televoc does not know"}


# --- the arithmetic of ranges -----------------------------------------------------------


def range_problem(r: NumberRange) -> str | None:
    """What makes `r` no range (its fix included), or None."""
    if len(r.last) != len(r.first):
        return (
            f"{r.last!r} has {len(r.last)} digits and first {r.first!r} {len(r.first)}, but a range holds "
            f"numbers of one length (the {len(r.first)}-digit numbers from {r.first} end at {'9' * len(r.first)}): "
            f"write last with {len(r.first)} digits, or first with {len(r.last)}"
        )
    if r.last < r.first:
        return f"{r.last!r} is below first {r.first!r}, so the range is empty: swap them, or write the right ends"
    return None


def overlap(a: NumberRange, b: NumberRange) -> tuple[str, str] | None:
    """The numbers (first, last) that ranges `a` and `b` share, or None."""
    if a.length != b.length:
        return None
    first, last = max(a.first, b.first), min(a.last, b.last)
    return (first, last) if first <= last else None


def meets_prefix(r: NumberRange, prefix: str) -> str | None:
    """A number of `r` that begins with `prefix`, or that `prefix` begins with; None if no
    number of `r` does either (a prefix that is not all digits meets none)."""
    if not prefix.isdigit():
        return None
    if len(prefix) >= r.length:
        head = prefix[: r.length]
        return head if head in r else None
    low = max(r.first, prefix + "0" * (r.length - len(prefix)))
    high = min(r.last, prefix + "9" * (r.length - len(prefix)))
    return low if low <= high else None


def blocks(r: NumberRange) -> list[str]:
    """The range as few prefixes as can be: each prefix stands for every number of the range's
    length that begins with it, and together they are exactly the range, in order
    (2000-8999 -> 2, 3, ..., 8; 1995-2004 -> 1995, ..., 1999, 200). At most 18 per digit."""
    return list(_blocks(r.first, r.last))


def _blocks(first: str, last: str) -> Iterator[str]:
    length = len(first)
    same = 0
    while same < length and first[same] == last[same]:
        same += 1
    if same == length:
        yield first
        return
    rest = length - same - 1
    if first[same:] == "0" * (rest + 1) and last[same:] == "9" * (rest + 1):
        yield first[:same]
        return
    low, high = int(first[same]), int(last[same])
    if first[same + 1 :] != "0" * rest:
        yield from _blocks(first, first[: same + 1] + "9" * rest)
        low += 1
    upper = last[same + 1 :] != "9" * rest
    for digit in range(low, high if upper else high + 1):
        yield first[:same] + str(digit)
    if upper:
        yield from _blocks(last[: same + 1] + "0" * rest, last)


def uncovered(r: NumberRange, prefixes: Sequence[str]) -> str | None:
    """A number of `r` that begins with none of `prefixes`, or None when each does."""
    todo = blocks(r)
    while todo:
        block = todo.pop(0)
        if any(block.startswith(p) for p in prefixes):
            continue
        if len(block) < r.length and any(p.startswith(block) for p in prefixes):
            todo[:0] = [block + str(d) for d in range(10)]  # partly covered: look closer
            continue
        return block + "0" * (r.length - len(block))
    return None


# --- the rules ------------------------------------------------------------------------------


def _where(event_file: SourceFile, *path: str) -> str:
    line = event_file.line(("self_service", *path), exact=True)
    return f"{EVENT_FILE} line {line}" if line else EVENT_FILE


def _named(event_file: SourceFile, kind: str, r: NumberRange) -> str:
    return f"the {kind} range {r} (self_service.{kind}, {_where(event_file, kind)})"


def check_self_service(event: Event, event_file: SourceFile, entries: Entries, tests: dict[str, str]) -> None:
    """Every rule of `self_service:` across the directory (none without it); `tests` maps the
    test numbers to their names."""
    s = event.self_service
    if s is None:
        return
    ranges = {}
    for kind in RANGES:
        r = getattr(s, kind)
        problem = range_problem(r)
        if problem:
            event_file.add(("self_service", kind, "last"), problem)
        else:
            ranges[kind] = r
    if len(ranges) == 2:
        shared = overlap(ranges["claimable"], ranges["temporary"])
        if shared:
            event_file.add(
                ("self_service", "temporary"),
                f"{ranges['temporary']} shares {shared[0]}-{shared[1]} with "
                f"{_named(event_file, 'claimable', ranges['claimable'])}: a number is either claimed or "
                "temporary: make the two ranges apart",
            )
    _crew_numbers_outside(event, event_file, entries, tests, ranges)
    _claim_code_apart(s, event, event_file, entries, tests, ranges)
    _targets_exist(s, event_file, entries)
    if s.page_port == event.provisioning.http_port:  # both TCP on the PBX's address
        event_file.add(
            ("self_service", "page_port"),
            f"{s.page_port} is the provisioning server's port (provisioning.http_port): "
            "choose another port for the registration page",
        )
    if event.trunk is not None:
        prefix = event.trunk.dial_out_prefix
        for kind, r in ranges.items():
            hit = meets_prefix(r, prefix)
            if hit is not None:
                event_file.add(
                    ("self_service", kind),
                    f"{r} holds {hit}, which begins with the dial-out prefix {prefix!r} (trunk.dial_out_prefix): "
                    "a phone dialling it would call out: choose a range apart from it, or another dial_out_prefix",
                )
    _venue(s, event, event_file, ranges)


def _crew_numbers_outside(
    event: Event, event_file: SourceFile, entries: Entries, tests: dict[str, str], ranges: dict[str, NumberRange]
) -> None:
    """No number the crew gave lies inside a range: each problem names the entry and the range."""
    if not ranges:
        return

    def inside(number: str) -> tuple[str, NumberRange] | None:
        return next(((k, r) for k, r in ranges.items() if number in r), None)

    fix = "choose a number outside it, or move the range (event.yml self_service)"

    def named(hit: tuple[str, NumberRange]) -> str:
        return f"{_named(event_file, *hit)}, {KEPT_FOR[hit[0]]}"

    for v in entries.phone_views:
        hit = inside(v.extension) if v.extension is not None else None
        if hit:
            entries.phones.add(
                ("phones", v.index, "extension"),
                f"{v.extension!r} is inside {named(hit)}: {fix}",
            )
        hit = inside(v.name) if v.name else None
        if hit:  # its SIP account would shadow the claimed number's (pjsip.conf is asked first)
            entries.phones.add(
                ("phones", v.index, "name"),
                f"{v.name!r} is inside {named(hit)}, and a phone's name is its SIP account: "
                "choose a name that is no number of the range",
            )
    for g in entries.group_views:
        hit = inside(g.number) if g.number is not None else None
        if hit:
            entries.groups.add(
                ("groups", g.index, "number"),
                f"{g.number!r} is inside {named(hit)}: {fix}",
            )
    for number, test in tests.items():
        hit = inside(number)
        if hit:
            event_file.add(
                ("test_numbers", test),
                f"the {test} test number {number!r} is inside {named(hit)}: {fix}",
            )
    hit = inside(event.pickup_code)
    if hit:
        event_file.add(("pickup_code",), f"{event.pickup_code!r} is inside {named(hit)}: {fix}")


def _numbers(
    event: Event, event_file: SourceFile, entries: Entries, tests: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """(number, whose, in words) for every number of the event the crew gave."""
    phones, groups = entries.phones, entries.groups
    for v in entries.phone_views:
        if v.extension is not None:
            line = phones.line(("phones", v.index, "extension"))
            yield v.extension, f"the extension of {phones.phone(v.index)} ({phones.name} line {line})"
    for g in entries.group_views:
        if g.number is not None:
            line = groups.line(("groups", g.index, "number"))
            yield g.number, f"the number of {groups.entry('groups', g.index)} ({groups.name} line {line})"
    for number, test in tests.items():
        yield number, f"the {test} test number"
    yield event.pickup_code, "the pickup code (pickup_code)"


def _claim_code_apart(
    s: SelfService,
    event: Event,
    event_file: SourceFile,
    entries: Entries,
    tests: dict[str, str],
    ranges: dict[str, NumberRange],
) -> None:
    """The claim code is dialled with a token after it: no number of the event may begin with
    it, nor it with a number (the phone or the PBX could not tell them apart)."""
    code = s.claim_code
    path = ("self_service", "claim_code")
    fix = "choose another claim_code (one with '*' meets no number)"
    hits = [who for number, who in _numbers(event, event_file, entries, tests) if _meet(code, number)]
    if hits:
        more = f" and {len(hits) - 1} more" if len(hits) > 1 else ""
        event_file.add(path, f"{code!r} and {hits[0]}{more} begin one another: {fix}")
    for kind, r in ranges.items():
        hit = meets_prefix(r, code)
        if hit is not None:
            event_file.add(path, f"{code!r} and {hit} of {_named(event_file, kind, r)} begin one another: {fix}")
    if event.trunk is not None and _meet(code, event.trunk.dial_out_prefix):
        event_file.add(
            path,
            f"{code!r} and the dial-out prefix {event.trunk.dial_out_prefix!r} (trunk.dial_out_prefix) begin "
            f"one another: a claim would call out: {fix}",
        )
    for name, venue in event.venues.items():
        if name != s.venue:
            for prefix in venue.numbers:
                if _meet(code, prefix):
                    event_file.add(
                        path,
                        f"{code!r} and the prefix {prefix!r} of venue {name} begin one another: a claim would "
                        f"go to its PBX: {fix}",
                    )


def _meet(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _targets_exist(s: SelfService, event_file: SourceFile, entries: Entries) -> None:
    names = {v.name.lower() for v in entries.phone_views if v.name}
    names |= {g.name.lower() for g in entries.group_views if g.name}
    targets: list[tuple[tuple, str, str]] = [
        (("self_service", "info_desk"), s.info_desk, "the info desk participants call for help")
    ]
    targets += [
        (("self_service", "temporary_may_call", j), name, "a phone or group a temporary number may call")
        for j, name in enumerate(s.temporary_may_call)
    ]
    for path, name, what in targets:
        if name.lower() not in names:
            event_file.add(
                path,
                f"{name!r} is no phone or group of the event: write the name of {what} (phones.yml or groups.yml)",
            )


def _venue(s: SelfService, event: Event, event_file: SourceFile, ranges: dict[str, NumberRange]) -> None:
    """With venues, one venue's PBX serves self-service, and both ranges are among its numbers."""
    venues = event.venues
    if not venues:
        if s.venue is not None:
            event_file.add(
                ("self_service", "venue"),
                f"{s.venue!r} names a venue, but event.yml has no venues: delete the line, or declare venues",
            )
        return
    if s.venue not in venues:
        what = f"{s.venue!r} is no venue" if s.venue else "venue is missing"
        event_file.add(
            ("self_service", "venue") if s.venue else ("self_service",),
            f"{what}: with venues, name the venue whose PBX serves self-service ({', '.join(venues)})",
        )
        return
    prefixes = venues[s.venue].numbers
    for kind, r in ranges.items():
        number = uncovered(r, prefixes)
        if number is not None:
            event_file.add(
                ("self_service", kind),
                f"{r} holds {number}, which is not among the numbers of venue {s.venue} "
                f"({' '.join(prefixes)}), whose PBX serves self-service: choose a range of its numbers",
            )


# --- what a temporary number may call (the dialplan renders it) -------------------------------


@dataclass(frozen=True)
class TemporaryCalls:
    """What a phone with a temporary number may dial: the claim code with a token, and the
    numbers listed (number, what it is), each a number of the event's numbers context."""

    claim_code: str
    token_digits: int
    numbers: tuple[tuple[str, str], ...]

    @property
    def claim_pattern(self) -> str:
        """The claim code and a token of its length, as an extension pattern (`_*23XXXXXX`)."""
        return f"_{self.claim_code}{'X' * self.token_digits}"


def temporary_calls(directory: Directory) -> TemporaryCalls | None:
    """What a temporary number may call on the PBX of `directory` (a venue's cut: the one
    that serves self-service), in the order a reader looks for them: the info desk, the
    test numbers, then `temporary_may_call`; each number once. None when self-service is off,
    or served by another venue's PBX. The names were checked when the directory was loaded."""
    s = directory.event.self_service
    if s is None or not s.enabled:
        return None
    if directory.venue is not None and directory.venue.name != s.venue:
        return None
    by_name = {a.name.lower(): a.extension for a in directory.accounts}
    by_name |= {g.name.lower(): g.number for g in directory.groups}
    if directory.venue is not None:  # phones and groups of the other venues, over the peering
        by_name |= {name.lower(): number for name, number in directory.venue.remote}
    tests = directory.event.test_numbers
    wanted = [(by_name[s.info_desk.lower()], f"the info desk ({s.info_desk})")]
    wanted += [(tests.hello_world, "the hello_world test number"), (tests.echo, "the echo test number")]
    wanted += [(by_name[name.lower()], name) for name in s.temporary_may_call]
    numbers: dict[str, str] = {}
    for number, what in wanted:
        numbers.setdefault(number, what)
    return TemporaryCalls(s.claim_code, s.token_digits, tuple(numbers.items()))


# --- the hook for the rule that needs the PBX's claims ---------------------------------------


@dataclass(frozen=True)
class Claim:
    """A number a participant has claimed, as the PBX's database holds it."""

    number: str
    name: str | None = None  # the participant's name for the directory, if they gave one
    since: str | None = None  # when it was claimed (ISO 8601), as the database says

    def __str__(self) -> str:
        who = f" as {self.name!r}" if self.name else ""
        when = f" since {self.since}" if self.since else ""
        return f"claimed by a participant{who}{when}"


def check_claims(
    claims: Iterable[Claim], event: Event, event_file: SourceFile, entries: Entries, tests: dict[str, str]
) -> None:
    """A crew number that a participant has claimed is refused, naming the claim: a deploy
    never takes a claimed number over. `claims`: every claim the PBX's database holds.

    The ranges keep crew numbers and claims apart while they stand; this rule holds when they
    move during the event (a range shrunk, self-service turned off) with claims still held.
    A deploy reads the claims from the PBX's database (roles/selfservice) and, on a
    collision, runs it through `load_directory(path, claims=...)` with the other rules."""
    held = {c.number: c for c in claims}
    if not held:
        return
    fix = "choose another number, or have the participant release the claim first"
    for v in entries.phone_views:
        if v.extension in held:
            entries.phones.add(("phones", v.index, "extension"), f"{v.extension!r} is {held[v.extension]}: {fix}")
    for g in entries.group_views:
        if g.number in held:
            entries.groups.add(("groups", g.index, "number"), f"{g.number!r} is {held[g.number]}: {fix}")
    for number, test in tests.items():
        if number in held:
            event_file.add(("test_numbers", test), f"the {test} test number {number!r} is {held[number]}: {fix}")
    if event.pickup_code in held:
        event_file.add(("pickup_code",), f"{event.pickup_code!r} is {held[event.pickup_code]}: {fix}")


__all__ = [
    "Claim",
    "TemporaryCalls",
    "blocks",
    "check_claims",
    "check_self_service",
    "meets_prefix",
    "overlap",
    "range_problem",
    "temporary_calls",
    "uncovered",
]
