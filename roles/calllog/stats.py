"""The crew's statistics over the call log: pure functions over rows, no host.

    calls = merged(rows)                            # rows as the PBX's command exports them
    stats = statistics(calls, locations(directory))
    print(text(stats))

Standard library only at run time: the crew's board (roles/selfservice/files/board.py) runs it
on the PBX, shipped beside the NixOS module.

A row is what Asterisk wrote (roles/asterisk/render.py, CALL_LOG_COLUMNS): start, answer,
src, dst, duration, billsec, disposition, ..., linkedid. One call can be several rows: Asterisk
writes one per Dial() and one for what the dialplan does after a Dial() that failed (a group's
members, a forward on no answer, the caller hearing busy); they share the caller's linkedid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type: the crew's board ships this file to the PBX on its own
    from roles.event import Directory

ANSWERED = "ANSWERED"
NOT_A_PHONE = "(not a phone)"  # a group, a test number, an outside number


@dataclass(frozen=True)
class Call:
    """One call: who called whom (`src`, `dst`), when (`start`, "YYYY-MM-DD HH:MM:SS"), how long
    (`duration` from dialling, `billsec` from the answer, in seconds), how it ended
    (`disposition`: ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION; `cause`: the Q.850 hangup
    cause, "16" normal clearing, "17" busy, "19" no answer; empty when not known)."""

    start: str
    src: str
    dst: str
    disposition: str
    duration: int
    billsec: int
    cause: str = ""

    @classmethod
    def of(cls, row: Mapping[str, object]) -> Call:
        def seconds(value: object) -> int:
            try:
                return int(float(str(value)))
            except ValueError:
                return 0

        return cls(
            start=str(row.get("start") or ""),
            src=str(row.get("src") or ""),
            dst=str(row.get("dst") or ""),
            disposition=str(row.get("disposition") or ""),
            duration=seconds(row.get("duration") or 0),
            billsec=seconds(row.get("billsec") or 0),
            cause=str(row.get("cause") or ""),
        )


def merged(rows: Iterable[Mapping[str, object]]) -> list[Call]:
    """The calls `rows` hold, one per linkedid (a row without one is a call of its own), in the
    order of their first row: who called the number first dialled, when it began, how long
    all of it took, ANSWERED when any row was, the last hangup cause. Linear in the rows."""
    calls: dict[str, Call] = {}
    for i, row in enumerate(rows):
        call = Call.of(row)
        key = str(row.get("linkedid") or row.get("uniqueid") or f"row {i}")
        first = calls.get(key)
        if first is None:
            calls[key] = call
            continue
        answered = ANSWERED if ANSWERED in (first.disposition, call.disposition) else first.disposition
        calls[key] = Call(
            start=first.start,
            src=first.src,
            dst=first.dst,
            disposition=answered,
            duration=first.duration + call.duration,
            billsec=first.billsec + call.billsec,
            cause=call.cause or first.cause,  # the last row's: how the call ended
        )
    return list(calls.values())


@dataclass
class Place:
    """A location's calls: placed by its phones, received by them, of those answered."""

    placed: int = 0
    received: int = 0
    answered: int = 0


@dataclass(frozen=True)
class Stats:
    """+ per_hour: "YYYY-MM-DD HH" -> calls that began in that hour, in time order
    + per_location: location -> Place, by location name
    + never_reached: the numbers dialled whose every call went unanswered, in order
    + attempts: number -> calls to it (for never_reached)"""

    total: int
    answered: int
    per_hour: dict[str, int]
    per_location: dict[str, Place]
    never_reached: tuple[str, ...]
    attempts: dict[str, int] = field(default_factory=dict)


def locations(directory: Directory) -> dict[str, str]:
    """Each phone's and group's number -> its `location` (its name when it has none)."""
    where = {g.number: (g.location or g.name) for g in directory.groups}
    where.update({a.extension: (a.location or a.name) for a in directory.accounts})
    return where


def statistics(calls: Iterable[Call], where: Mapping[str, str]) -> Stats:
    """The statistics of `calls`; `where`: extension -> location (locations()). Linear in the calls."""
    per_hour: Counter[str] = Counter()
    per_location: dict[str, Place] = {}
    dialled: Counter[str] = Counter()
    reached: set[str] = set()
    total = answered = 0
    for call in calls:
        total += 1
        ok = call.disposition == ANSWERED
        answered += ok
        per_hour[call.start[:13]] += 1
        per_location.setdefault(where.get(call.src, NOT_A_PHONE), Place()).placed += 1
        place = per_location.setdefault(where.get(call.dst, NOT_A_PHONE), Place())
        place.received += 1
        place.answered += ok
        dialled[call.dst] += 1
        if ok:
            reached.add(call.dst)
    never = tuple(sorted((n for n in dialled if n not in reached), key=lambda n: (len(n), n)))
    return Stats(
        total=total,
        answered=answered,
        per_hour=dict(sorted(per_hour.items())),
        per_location=dict(sorted(per_location.items())),
        never_reached=never,
        attempts={n: dialled[n] for n in never},
    )


def text(stats: Stats, where: Mapping[str, str] | None = None) -> str:
    """The statistics as the command prints them: totals, calls per hour, a table per location
    (placed, received, answered), the numbers never reached with their calls and location."""
    where = where or {}
    lines = [f"{stats.total} calls, {stats.answered} answered", "", "calls per hour"]
    lines += [f"  {hour}:00  {n:>6}" for hour, n in stats.per_hour.items()] or ["  (none)"]
    width = max([len("location"), *(len(p) for p in stats.per_location)])
    lines += ["", "calls per location", f"  {'location':<{width}}  {'placed':>7}  {'received':>8}  {'answered':>8}"]
    lines += [
        f"  {name:<{width}}  {p.placed:>7}  {p.received:>8}  {p.answered:>8}" for name, p in stats.per_location.items()
    ]
    lines += ["", f"numbers never reached ({len(stats.never_reached)})"]
    lines += [f"  {n:<10} {stats.attempts[n]:>4} calls  {where.get(n, NOT_A_PHONE)}" for n in stats.never_reached] or [
        "  (none)"
    ]
    return "\n".join(lines) + "\n"
