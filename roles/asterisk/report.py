"""Pure judgements on a PbxState: is the config live, is each phone ready. No host, no I/O.

Every pass/fail decision televoc makes about Asterisk is a function here, with a unit test
per reason (tests/unit/test_report.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from roles.event import Account
from roles.names import TRANSPORT

from .cli import PbxState

NOT_READY = {"Unavail": "registered but not answering qualify (OPTIONS)"}
NO_AOR = "Asterisk has no aor of that name"
NOT_REGISTERED = "not registered"
NEW_PASSWORD = "not registered since its password changed (its old registration was dropped)"


@dataclass
class RunChanges:
    """What this run changed that a later step must know: created in the deploy file, filled
    in by the step that changes it, read by the verification.

    + credentials: phones whose password changed (their old registrations were dropped)
    """

    credentials: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LiveConfig:
    """What Asterisk must report once it serves a rendered config.

    + generation: the pjsip generation (aor televoc-generation-<gen>)
    + dialplan_generation: the dialplan generation (global TELEVOC_DIALPLAN)
    + phones: the names whose aors must exist, and no others
    + bind: the SIP transport's bind address (ip:port)
    """

    generation: str
    dialplan_generation: str
    phones: frozenset[str]
    bind: str


def config_mismatches(state: PbxState, expected: LiveConfig) -> list[str]:
    """Why Asterisk does not serve `expected`, one reason each; empty: it does."""
    if not state.running:
        return ["Asterisk is not running"]
    reasons = []
    if state.generation != expected.generation:
        reasons.append(
            f"pjsip config: Asterisk serves generation {state.generation or 'none'}, "
            f"not {expected.generation}"
        )
    if state.dialplan_generation != expected.dialplan_generation:
        reasons.append(
            f"dialplan: Asterisk serves {state.dialplan_generation or 'none'}, "
            f"not {expected.dialplan_generation}"
        )
    have = state.phone_aors()
    lacking, extra = sorted(expected.phones - have), sorted(have - expected.phones)
    if lacking:
        reasons.append(f"aors missing in Asterisk: {', '.join(lacking)}")
    if extra:
        reasons.append(f"aors Asterisk has that the directory does not: {', '.join(extra)}")
    bind = state.transports.get(TRANSPORT)
    if bind != expected.bind:
        reasons.append(f"SIP transport bound to {bind or 'nothing'}, not {expected.bind}")
    return reasons


def registration_problems(state: PbxState, phones: Iterable[Account],
                          new_password: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(name, reason) for every phone that cannot be called now, in directory order.
    `new_password`: phones whose password changed in this run."""
    problems = []
    changed = set(new_password)
    for phone in phones:
        if phone.name not in state.aors:
            problems.append((phone.name, NO_AOR))
            continue
        contacts = state.contacts_of(phone.name)
        if not contacts:
            problems.append((phone.name, NEW_PASSWORD if phone.name in changed else NOT_REGISTERED))
        elif all(c.status in NOT_READY for c in contacts):
            problems.append((phone.name, NOT_READY[contacts[0].status]))
    return problems


def registration_table(state: PbxState, phones: Sequence[Account]) -> str:
    rows = [("phone", "extension", "contact", "status", "RTT", "user agent")]
    for phone in phones:
        contacts = state.contacts_of(phone.name)
        if not contacts:
            rows.append((phone.name, phone.extension, "-", "MISSING", "-", "-"))
        for c in contacts:
            rtt = "-" if c.rtt_ms is None else f"{c.rtt_ms:.1f} ms"
            rows.append((phone.name, phone.extension, c.uri, c.status, rtt, c.user_agent or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
