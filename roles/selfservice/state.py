"""What the self-service database held when the run began, from the snapshot's one read
(`televoc-claims read`, one JSON line). Pure: no host.

    state = parse(snapshot.outputs["selfservice"])
    state.count           # how many claims the database holds
    state.claims          # (Claim, ...) with the participant's name and since when: each claim
                          # outside the claimable range the read was given (a crew number can
                          # be none of the others), every claim when it was given none
    colliding(state.claims, directory)   # the claims a crew number takes: refused
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from roles.event import Directory
from roles.event.selfservice import Claim

ABSENT = "absent"  # no database file
EMPTY = "empty"  # a file without televoc's schema
PRESENT = "present"
NO_TOOL = "no-tool"  # the module (and its command) is not in place yet: no database either
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class DbState:
    """The database as read.

    + status: ABSENT, EMPTY, PRESENT, NO_TOOL or UNREADABLE (`error` says what came back)
    + revision: the schema's Alembic revision (None: no schema)
    + mode: the file's mode ("0660")
    + settings, defaults: what a deploy wrote beside the claims
    + count: how many claims it holds
    + claims: the claims it listed, without their secrets: those outside the range the read was
      given (snapshot_commands), every claim without one
    + phones: (number, MAC) of every participant's snom that holds a claimed or temporary
      number (the provisioning server gave it; teardown wipes it)
    """

    status: str
    revision: str | None = None
    mode: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()
    phones: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    listed_count: int | None = None  # the read's count (None: as many as listed)

    @property
    def count(self) -> int:
        return len(self.claims) if self.listed_count is None else self.listed_count


def parse(lines: list[str] | None) -> DbState:
    """The tool's JSON line; UNREADABLE with the first line when it printed something else."""
    text = "\n".join(lines or []).strip()
    try:
        data = json.loads(text)
        status = data["db"]
    except (ValueError, KeyError, TypeError):
        return DbState(UNREADABLE, error=(text.splitlines() or ["nothing"])[-1][:300])
    if status != PRESENT:
        return DbState(status)
    claims = tuple(Claim(number=c[0], name=c[1], since=c[4]) for c in data.get("claims", []))
    return DbState(
        PRESENT,
        revision=data.get("revision"),
        mode=data.get("mode"),
        settings=data.get("settings", {}),
        defaults=data.get("defaults", {}),
        claims=claims,
        phones=tuple((str(p[0]), str(p[1])) for p in data.get("phones", []) if isinstance(p, list) and len(p) == 2),
        listed_count=data.get("count"),
    )


def colliding(claims: tuple[Claim, ...], directory: Directory) -> list[Claim]:
    """The claims that a crew number of `directory` (phone, group, service of services.yml,
    test number, pickup code) is: a quick look, linear in both, over every number the event's
    rules refuse a claim for (event.selfservice.check_claims, event.services.check_services);
    those rules then name each one where it is written (load_directory(path, claims=...))."""
    if not claims:
        return []
    event = directory.event
    crew = {a.extension for a in directory.accounts} | {g.number for g in directory.groups}
    services = directory.services
    crew |= {p.number for p in services.paging} | {i.number for i in services.intercoms}
    crew |= {c.number for c in services.conferences}
    crew |= {event.test_numbers.hello_world, event.test_numbers.echo, event.pickup_code}
    return [c for c in claims if c.number in crew]
