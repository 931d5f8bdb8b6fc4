"""The self-service database as a deploy keeps it: pure, no host.

What the deploy writes into the database beside the schema is what the event directory says
of self-service (its `settings`: the claimable and temporary ranges, how long a claim and a
token last) and what every claimed number's endpoint shares with the crew's phones (its
`endpoint_defaults`, given by the asterisk role). Never a claim: claims are the
participants'.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from roles.event import Directory
from roles.event.selfservice import temporary_calls
from roles.shared import names

# The database's command on the PBX: its code, shipped next to televoc's NixOS module.
CLAIMSDB = Path(__file__).parent / "files" / "claimsdb.py"
TOOL_NAME = Path(names.SELFSERVICE_TOOL).name
# The registration page: its code and templates, shipped next to the module too.
PAGE = Path(__file__).parent / "files" / "page.py"
PAGE_TEMPLATES = Path(__file__).parent / "files" / "templates"
# fail2ban's jail on the page's log: a wrong release secret (page.WRONG_SECRET_LOG, after the time).
PAGE_JAIL_REGEX = r"^\s*televoc-page: wrong release secret for \S+ from <ADDR>$"


@dataclass(frozen=True)
class Database:
    """The self-service database on one PBX.

    + serves: this PBX serves self-service (the event's `self_service:`, enabled, its venue):
      the deploy makes and migrates the database; without it the claims are still read
    + path: the SQLite file (names.SELFSERVICE_DB)
    + tool: the command on the PBX that reads and writes it (names.SELFSERVICE_TOOL)
    + wanted: what the deploy writes beside the claims ({"settings": ..., "endpoint_defaults": ...})
    """

    serves: bool
    path: str = names.SELFSERVICE_DB
    tool: str = names.SELFSERVICE_TOOL
    wanted: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def wanted_json(self) -> str:
        return json.dumps(self.wanted, sort_keys=True, indent=1) + "\n"


def database(directory: Directory, endpoint_defaults: Mapping[str, str]) -> Database:
    """The database `directory` wants on its PBX; `endpoint_defaults`: the options every
    claimed number's endpoint and aor take (the asterisk role's realtime_defaults)."""
    s = directory.event.self_service
    if s is None or temporary_calls(directory) is None:
        return Database(serves=False)
    settings = {
        "claimable_first": s.claimable.first,
        "claimable_last": s.claimable.last,
        "temporary_first": s.temporary.first,
        "temporary_last": s.temporary.last,
        "token_digits": str(s.token_digits),
        "token_minutes": str(s.token_minutes),
        "in_directory": "1" if s.in_directory else "0",
    }
    if s.claim_days is not None:
        settings["claim_days"] = str(s.claim_days)
    return Database(serves=True, wanted={"settings": settings, "endpoint_defaults": dict(endpoint_defaults)})
