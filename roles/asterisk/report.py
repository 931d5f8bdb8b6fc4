"""Pure judgements on a PbxState: is the config live, is each phone ready. No host, no I/O.

Every pass/fail decision televoc makes about Asterisk is a function here, with a unit test
per reason (tests/unit/test_report.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from roles.event import Account
from roles.shared import pbxcli
from roles.shared.names import TRANSPORT
from roles.shared.pbxcli import PbxState, in_range

# A phone is ready when a contact of its aor answers Asterisk's qualify (OPTIONS): status
# Avail. A contact that registered a moment ago has not been qualified yet (Unknown, or
# NonQual when qualify is off): it may well not answer, so it does not count yet.
READY = "Avail"
NOT_READY = {
    "Unavail": "registered but not answering qualify (OPTIONS)",
    "Unknown": "registered, qualify not answered yet",
    "NonQual": "registered, not qualified",
    "Created": "registered, qualify not answered yet",
}
NO_AOR = "Asterisk has no aor of that name"
NOT_REGISTERED = "not registered"
NEW_PASSWORD = "not registered since its password changed (its old registration was dropped)"


@dataclass
class RunChanges:
    """What this run changed that a later step must know: created in the deploy file, filled
    in by the step that changes it, read by the verification.

    + credentials: phones whose password changed (their old registrations were dropped)
    + asterisk: something in this run touched Asterisk or the phones (a start, a reload,
      dropped registrations, a NOTIFY): what the run's snapshot read is no longer current
    """

    credentials: list[str] = field(default_factory=list)
    asterisk: bool = False


@dataclass(frozen=True)
class Verification:
    """What the verification checks once a config is live.

    + phones: the accounts, each of which must have a contact that answers
    + groups: (group, the phones it rings): groups none of whose phones is ready are listed
    + trunk: (registration name, label) of the upstream trunk, which must be Registered
    + peers: (aor, venue) of the other venues' PBXes, which must answer qualify
    + claimable: (first, last) of the numbers participants claim (self-service): their aors
      come from the self-service database, and are reported apart from the crew's phones
    + bases: (name, model) of the DECT bases that hold handset accounts: a base none of
      whose handsets is ready is reported as one line, not handset by handset
    """

    phones: tuple[Account, ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    trunk: tuple[str, str] | None = None
    peers: tuple[tuple[str, str], ...] = ()
    claimable: tuple[str, str] | None = None
    bases: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LiveConfig:
    """What Asterisk must report once it serves a rendered config.

    + generation: the pjsip generation (aor televoc-generation-<gen>)
    + dialplan_generation: the dialplan generation (global TELEVOC_DIALPLAN)
    + phones: the names whose aors must exist, and no others (but claimed numbers)
    + bind: the SIP transport's bind address (ip:port)
    + claimable: (first, last): aors in this range are claimed numbers from the self-service
      database, neither missing nor extra
    + temporary: (first, last): aors in this range are temporary numbers from the same
      database (participants' snoms), neither missing nor extra
    + reads: config files Asterisk must have loaded (`config list`): PJSIP's own files,
      which it reads only when it started with televoc's sorcery.conf (a teardown: none)
    """

    generation: str
    dialplan_generation: str
    phones: frozenset[str]
    bind: str
    claimable: tuple[str, str] | None = None
    temporary: tuple[str, str] | None = None
    reads: tuple[str, ...] = ()

    def unread(self, state: PbxState) -> list[str]:
        """The files of `reads` the running Asterisk does not read (it started with another
        sorcery.conf, or before televoc's: only a restart applies it)."""
        return [name for name in self.reads if name not in state.config_files]

    @property
    def listed_aors(self) -> int | None:
        """How Asterisk's aors are listed (pbxcli.listed_aors): the crew's alone."""
        return pbxcli.listed_aors(len(self.phones), self.claimable is not None)


def config_mismatches(state: PbxState, expected: LiveConfig) -> list[str]:
    """Why Asterisk does not serve `expected`, one reason each; empty: it does."""
    if not state.running:
        return ["Asterisk is not running"]
    reasons = []
    unread = expected.unread(state)
    if unread:
        reasons.append(
            f"Asterisk does not read {', '.join(unread)}: it started with another sorcery.conf "
            "(it applies that file only when it starts)"
        )
    if state.generation != expected.generation:
        reasons.append(
            f"pjsip config: Asterisk serves generation {state.generation or 'none'}, not {expected.generation}"
        )
    if state.dialplan_generation != expected.dialplan_generation:
        reasons.append(
            f"dialplan: Asterisk serves {state.dialplan_generation or 'none'}, not {expected.dialplan_generation}"
        )
    have = {
        n for n in state.phone_aors() if not in_range(n, expected.claimable) and not in_range(n, expected.temporary)
    }
    lacking, extra = sorted(expected.phones - have), sorted(have - expected.phones)
    if lacking:
        reasons.append(f"aors missing in Asterisk: {', '.join(lacking)}")
    if extra:
        reasons.append(f"aors Asterisk has that the directory does not: {', '.join(extra)}")
    bind = state.transports.get(TRANSPORT)
    if bind != expected.bind:
        reasons.append(f"SIP transport bound to {bind or 'nothing'}, not {expected.bind}")
    return reasons


def registration_problems(
    state: PbxState, phones: Iterable[Account], new_password: Iterable[str] = ()
) -> list[tuple[str, str]]:
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
        elif not any(c.status == READY for c in contacts):
            status = contacts[0].status
            problems.append((phone.name, NOT_READY.get(status, f"registered, contact {status}")))
    return problems


def status_counts(state: PbxState, phones: Sequence[Account]) -> dict[str, int]:
    """How many phones are in which state: a contact's status (the best one), or MISSING."""
    counts: dict[str, int] = {}
    for phone in phones:
        statuses = [c.status for c in state.contacts_of(phone.name)]
        status = READY if READY in statuses else (statuses[0] if statuses else "MISSING")
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] != READY, kv[0])))


def wrapped(label: str, names: Sequence[str], width: int = 100, limit: int = 60, more: str = "") -> list[str]:
    """'  label: a, b, c' wrapped at `width`, at most `limit` names, then '... and N more'."""
    shown = list(names[:limit])
    words = [f"{n}," for n in shown[:-1]] + shown[-1:]
    if len(names) > limit:
        words[-1] += ","
        words.append(f"... and {len(names) - limit} more{more}")
    lines, line = [], f"  {label}:"
    for word in words:
        if len(line) + 1 + len(word) > width and line.strip().endswith(","):
            lines.append(line)
            line = "     "
        line += " " + word
    lines.append(line)
    return lines


def offline_bases(
    phones: Sequence[Account], problems: list[tuple[str, str]], bases: Sequence[tuple[str, str]]
) -> tuple[list[str], list[tuple[str, str]]]:
    """(one line per DECT base none of whose handsets is ready: 'base dect-hall (10.23.0.41,
    snomM700) offline: 33 handsets', the problems of every other phone). `bases`: (name,
    label) with the label in the brackets."""
    not_ready = {name for name, _ in problems}
    handsets: dict[str, list[str]] = {}
    for phone in phones:
        if phone.base is not None:
            handsets.setdefault(phone.base, []).append(phone.name)
    lines, gone = [], set()
    for base, label in bases:
        names = handsets.get(base, [])
        if names and all(n in not_ready for n in names):
            lines.append(f"  base {base} ({label}) offline: {len(names)} handset{'' if len(names) == 1 else 's'}")
            gone.update(names)
    return lines, [(name, reason) for name, reason in problems if name not in gone]


def summary(
    state: PbxState,
    phones: Sequence[Account],
    problems: list[tuple[str, str]],
    more: str = "",
    bases: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """The run's result at any size: one line of counts, then the DECT bases none of whose
    handsets is ready (one line each, `bases`: see offline_bases), then the other phones that
    are not ready, grouped by reason, wrapped."""
    counts = ", ".join(f"{status} {n}" for status, n in status_counts(state, phones).items())
    ready = len(phones) - len(problems)
    lines = [f"{ready} of {len(phones)} phones ready ({counts})"]
    offline, problems = offline_bases(phones, problems, bases)
    lines += offline
    by_reason: dict[str, list[str]] = {}
    for name, reason in problems:
        by_reason.setdefault(reason, []).append(name)
    for reason, names in by_reason.items():
        lines += wrapped(f"{reason} ({len(names)})", names, more=more)
    return lines


def table_csv(state: PbxState, phones: Sequence[Account]) -> str:
    """Every phone, one row each (several when it has several contacts), for a spreadsheet."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "extension", "contact", "status", "rtt_ms", "user_agent"])
    for phone in phones:
        contacts = state.contacts_of(phone.name)
        if not contacts:
            writer.writerow([phone.name, phone.extension, "", "MISSING", "", ""])
        for c in contacts:
            writer.writerow(
                [
                    phone.name,
                    phone.extension,
                    c.uri,
                    c.status,
                    "" if c.rtt_ms is None else f"{c.rtt_ms:.1f}",
                    c.user_agent or "",
                ]
            )
    return out.getvalue()


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
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def unanswerable_groups(groups: Sequence[tuple[str, tuple[str, ...]]], problems: list[tuple[str, str]]) -> list[str]:
    """The groups no phone can answer now: every phone a group rings is not ready (or it
    rings none: every member paused). `groups`: (group, the phones it rings)."""
    not_ready = {name for name, _ in problems}
    return [group for group, phones in groups if all(p in not_ready for p in phones)]


TRUNK_READY = "Registered"
TRUNK_STATUS = {
    "Unregistered": "not registered (yet): the upstream has not answered, or the registration expired",
    "Rejected": (
        "rejected by the upstream, or it did not answer in time: check the trunk's username and "
        "password (the password file) and that the upstream answers"
    ),
    "Stopped": "stopped: Asterisk gave up registering",
}
# Asterisk shows both a refused password and an upstream that never answers as "Rejected"
# (res_pjsip_outbound_registration: a timeout is a temporary rejection). The trunk's aor has a
# qualified contact (the registrar): whether it answers Asterisk's OPTIONS tells them apart.
TRUNK_SILENT = (
    "the upstream does not answer (neither REGISTER nor OPTIONS): check its address and the network path to it"
)
TRUNK_REFUSED = (
    "rejected by the upstream, which answers otherwise: check the trunk's username and password (the password file)"
)


def trunk_problem(state: PbxState, name: str, label: str) -> str | None:
    """Why the trunk `name` cannot carry calls now (as `pjsip show registrations` says, and
    whether the registrar answers the qualify of the trunk's aor: Asterisk sends no call to a
    contact that does not answer), or None when it can. `label` names it for the crew
    ('6000 at 10.77.0.2')."""
    status = state.outbound.get(name)
    answers = {contact.status for contact in state.contacts_of(name)}
    silent = "Unavail" in answers and "Avail" not in answers
    if status == TRUNK_READY:
        if not silent:
            return None
        return (
            f"the trunk {label} is {status}, but the upstream does not answer Asterisk's OPTIONS: "
            "calls over it fail; check its address and the network path to it"
        )
    if status is None:
        return f"the trunk {label}: Asterisk has no registration {name}"
    if silent and status != "Stopped":
        why = TRUNK_SILENT
    elif status == "Rejected" and "Avail" in answers:
        why = TRUNK_REFUSED
    else:
        why = TRUNK_STATUS.get(status, "not registered")
    return f"the trunk {label} is {status}: {why}"


def peer_problems(state: PbxState, peers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(venue, why) for each other venue's PBX that does not answer this one's qualify now.
    `peers`: (aor, venue)."""
    problems = []
    for aor, venue in peers:
        statuses = [c.status for c in state.contacts_of(aor)]
        if READY not in statuses:
            what = f"its contact is {statuses[0]}" if statuses else "Asterisk has no contact for it"
            problems.append((venue, f"does not answer qualify ({what}): calls to its numbers fail"))
    return problems
