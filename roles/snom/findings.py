"""What the provisioning server saw, judged for the crew. Pure: no host, no I/O.

The server's state (provisiond.py) says which version of which MAC's file it served to which
address, which unknown MACs were asked for, which sources it refused, which sources it
refuses for sweeping MACs, and whether it locked itself after too many unknown MACs. The
deploy reports from it:
- a phone whose settings were fetched from an address other than the phone's known one
  (its `address`, or the address it registers from): someone else may hold its passwords;
- the sources refused for sweeping (each asked for too many unknown MACs): they get no
  settings, fail2ban bans them from every port; every other source is served;
- the global lock (many addresses swept): phones cannot fetch anything until the crew lifts
  it;
- the sources of other refused requests (fail2ban bans them; the crew may want to find them);
- the address that fetched each DECT primary's settings (every handset account of its
  system; televoc knows no base's address, so the crew compares it with the base's lease).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from roles.event import Directory
from roles.shared.pbxcli import PbxState

from .render import file_name
from .teardown import contact_host


@dataclass(frozen=True)
class Sweeper:
    """A source the server refuses for sweeping MACs: since when, after how many unknown MACs."""

    source: str
    since: float
    macs: int


@dataclass(frozen=True)
class Findings:
    locked: str | None = None  # the lock's reason
    foreign: tuple[str, ...] = ()  # one sentence per phone fetched from an unexpected address
    refused: dict[str, int] = field(default_factory=dict)  # source -> refused requests (sweepers' apart)
    unknown: tuple[str, ...] = ()  # unknown MACs asked for since the last unlock
    sweepers: tuple[Sweeper, ...] = ()  # refused for sweeping, the first found first
    bases: tuple[str, ...] = ()  # one sentence per DECT base whose settings were fetched: by whom


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
    bases = []
    for base in directory.bases:  # televoc knows no base's address: the crew compares
        fetch = fetches.get(base.mac.upper())
        if isinstance(fetch, dict) and base.holds_accounts:
            bases.append(
                f"DECT base {base.name}: its settings (every handset account of its system) were fetched by "
                f"{fetch.get('source')} at {_stamp(float(fetch.get('first') or 0))}: if that is not the base "
                "(its DHCP lease), someone else holds its handsets' passwords"
            )
    locked = server.get("locked")
    refused = server.get("refused") or {}
    found = server.get("sweepers") or {}
    sweepers = sorted(
        (
            Sweeper(str(source), float(s.get("since") or 0), int(s.get("macs") or 0))
            for source, s in (found.items() if isinstance(found, dict) else ())
            if isinstance(s, dict)
        ),
        key=lambda s: (s.since, s.source),
    )
    return Findings(
        locked=locked.get("reason") if isinstance(locked, dict) else None,
        foreign=tuple(foreign),
        refused={str(k): int(v) for k, v in refused.items() if isinstance(v, int) and k not in found},
        unknown=tuple(sorted(server.get("unknown") or {})),
        sweepers=tuple(sweepers),
        bases=tuple(bases),
    )


def _stamp(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def sweepers_sentence(sweepers: tuple[Sweeper, ...], shown: int = 10) -> str:
    """What the deploy says about the sources refused for sweeping ('' for none)."""
    if not sweepers:
        return ""
    listed = ", ".join(f"{s.source} ({s.macs} unknown MACs, since {_stamp(s.since)})" for s in sweepers[:shown])
    more = f" and {len(sweepers) - shown} more" if len(sweepers) > shown else ""
    count = f"{len(sweepers)} address{'' if len(sweepers) == 1 else 'es'}"
    return (
        f"the provisioning server refuses {count} for sweeping MACs: {listed}{more}. They get no phone's "
        "settings and fail2ban bans them from every port; the phones at every other address are served. "
        "If one of them is a phone or the crew's laptop, find out why it asked for other MACs, then "
        "forgive it with --data televoc_provisioning_unlock=true"
    )


def lock_sentence(reason: str, unlock_path: str) -> str:
    """What the deploy says while the server is locked for everyone, and how the crew lifts it."""
    return (
        f"the provisioning server is LOCKED ({reason}): no phone can fetch its settings. Someone guessed "
        f"MACs from many addresses; find them, then lift the lock on the PBX, as root: touch {unlock_path} "
        "(within a second, no deploy; the addresses refused for sweeping stay refused), or deploy with "
        "--data televoc_provisioning_unlock=true (which forgives them too)"
    )
