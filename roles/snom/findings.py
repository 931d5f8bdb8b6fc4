"""What the provisioning server saw, judged for the crew. Pure: no host, no I/O.

The server's state (provisiond.py) says which version of which MAC's file it served to which
address, which unknown MACs were asked for, which sources it refused, and whether it locked
itself after too many unknown MACs. The deploy reports from it:
- a phone whose settings were fetched from an address other than the phone's known one
  (its `address`, or the address it registers from): someone else may hold its passwords;
- the lock: phones cannot fetch anything until the crew unlocks it;
- the sources of refused requests (fail2ban bans them; the crew may want to find them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roles.event import Directory
from roles.shared.pbxcli import PbxState

from .render import file_name
from .teardown import contact_host


@dataclass(frozen=True)
class Findings:
    locked: str | None = None  # the lock's reason
    foreign: tuple[str, ...] = ()  # one sentence per phone fetched from an unexpected address
    refused: dict[str, int] = field(default_factory=dict)  # source -> refused requests
    unknown: tuple[str, ...] = ()  # unknown MACs asked for since the last unlock


def findings(server: dict | None, directory: Directory, state: PbxState | None) -> Findings:
    if not server:
        return Findings()
    fetches = server.get("fetches") or {}
    live = state if state is not None and state.running else None
    foreign = []
    for account in directory.provisioned:
        fetch = fetches.get(file_name(account)[:-4])
        if not isinstance(fetch, dict):
            continue
        expected: set[str | None] = set()
        if account.address:
            expected.add(account.address.split(":")[0])
        if live is not None:
            expected |= {contact_host(c.uri) for c in live.contacts_of(account.name)}
        source = fetch.get("source")
        if expected and source not in expected:
            foreign.append(
                f"{account.name}: its settings (passwords included) were fetched by {source}, but the "
                f"phone is at {', '.join(sorted(e for e in expected if e))}: if {source} is not that "
                "phone, someone else holds its passwords (give it a new password and deploy)"
            )
    locked = server.get("locked")
    refused = server.get("refused") or {}
    return Findings(
        locked=locked.get("reason") if isinstance(locked, dict) else None,
        foreign=tuple(foreign),
        refused={str(k): int(v) for k, v in refused.items() if isinstance(v, int)},
        unknown=tuple(sorted(server.get("unknown") or {})),
    )
