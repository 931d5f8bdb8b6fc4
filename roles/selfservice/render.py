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
    def claimable(self) -> tuple[str, str] | None:
        """(first, last) of the claimable range where this PBX serves self-service."""
        settings = self.wanted.get("settings", {})
        if not self.serves or "claimable_first" not in settings:
            return None
        return (settings["claimable_first"], settings["claimable_last"])

    @property
    def wanted_json(self) -> str:
        return json.dumps(self.wanted, sort_keys=True, indent=1) + "\n"


def claimable(directory: Directory) -> tuple[str, str] | None:
    """(first, last) of the claimable range when this PBX serves self-service (Database.claimable
    of its database, known before the plan)."""
    s = directory.event.self_service
    if s is None or temporary_calls(directory) is None:
        return None
    return (s.claimable.first, s.claimable.last)


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


@dataclass(frozen=True)
class PageService:
    """The registration page on the PBX that serves self-service (files/page.py).

    + service: its systemd unit and its log directory
    + bind, port: where it listens (event.yml pbx_address, self_service.page_port)
    + network: who may reach it (the phone network: the event network)
    + arguments: its command line, beside the templates file (TEMPLATES_FILE)
    """

    bind: str
    port: int
    network: str
    arguments: str
    service: str = "televoc-page"

    @property
    def log_path(self) -> str:
        return f"/var/log/{self.service}/page.log"


TEMPLATES_FILE = "page-templates.json"  # the page's templates, one file beside the module


def page_service(directory: Directory) -> PageService | None:
    """The page `directory` serves (None: this PBX serves no self-service)."""
    s = directory.event.self_service
    if s is None or temporary_calls(directory) is None:
        return None
    event = directory.event
    bind = event.pbx_address or "0.0.0.0"  # without it: every address, the firewall opens it to the network only
    port = int(s.page_port)
    log = f"/var/log/{PageService.service}/page.log"
    arguments = (
        f"--db {names.SELFSERVICE_DB} --bind {bind} --port {port} --claim-code '{s.claim_code}' --log {log} "
        f"--templates ${{./{TEMPLATES_FILE}}} --claimsdb ${{./{CLAIMSDB.name}}}"
    )
    if event.pbx_address:
        arguments += f" --sip-server {event.pbx_address}"
    return PageService(bind=bind, port=port, network=event.network, arguments=arguments)


def page_templates() -> str:
    """Every template of the page in one JSON text (name -> template): one file to ship."""
    files = sorted(PAGE_TEMPLATES.glob("*.html"))
    return json.dumps({f.name: f.read_text(encoding="utf-8") for f in files}, sort_keys=True, indent=1) + "\n"
