"""Pure: judge and print registrations from a PbxState."""

from __future__ import annotations

from .cli import PbxState

NOT_READY = {"Unavail": "registered but not answering qualify (OPTIONS)"}


def registration_problems(state: PbxState, phones) -> list[tuple[str, str]]:
    """(name, reason) for every phone that cannot be called now, in directory order."""
    problems = []
    for name, _extension in phones:
        if name not in state.aors:
            problems.append((name, "Asterisk has no aor of that name"))
            continue
        contacts = state.contacts_of(name)
        if not contacts:
            problems.append((name, "not registered"))
        elif all(c.status in NOT_READY for c in contacts):
            problems.append((name, NOT_READY[contacts[0].status]))
    return problems


def registration_table(state: PbxState, phones) -> str:
    rows = [("phone", "extension", "contact", "status", "RTT", "user agent")]
    for name, extension in phones:
        contacts = state.contacts_of(name)
        if not contacts:
            rows.append((name, extension, "-", "MISSING", "-", "-"))
        for c in contacts:
            rtt = "-" if c.rtt_ms is None else f"{c.rtt_ms:.1f} ms"
            rows.append((name, extension, c.uri, c.status, rtt, c.user_agent or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
