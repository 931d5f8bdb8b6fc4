"""The self-service database as a deploy keeps it: pure, no host.

What the deploy writes into the database beside the schema is what the event directory says
of self-service (its `settings`: the claimable and temporary ranges, how long a claim and a
token last) and what every claimed number's endpoint shares with the crew's phones (its
`endpoint_defaults`, given by the asterisk role). Never a claim: claims are the
participants'.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from roles import calllog
from roles.event import Directory
from roles.event.selfservice import temporary_calls
from roles.shared import names, pbxcli, sections

# The database's command on the PBX: its code, shipped next to televoc's NixOS module.
CLAIMSDB = Path(__file__).parent / "files" / names.SELFSERVICE_SCRIPT
TOOL_NAME = Path(names.SELFSERVICE_TOOL).name
# The registration page: its code and templates, shipped next to the module too.
PAGE = Path(__file__).parent / "files" / "page.py"
PAGE_TEMPLATES = Path(__file__).parent / "files" / "templates"
# fail2ban's jail on the page's log: a wrong release secret (page.WRONG_SECRET_LOG, after the
# time), a wrong claim token dialled (claimsdb.WRONG_TOKEN_LOG, written by the dialplan's AGI)
# or a failed crew login on the board (board.WRONG_PASSWORD_LOG).
PAGE_JAIL_REGEX = (
    r"^\s*televoc-page: (?:wrong (?:release secret for|claim token dialled by) \S+|crew login failed) from <ADDR>$"
)
# The crew's board (files/board.py, a blueprint of the same web application), its settings and
# the phones it shows (one JSON file), and the parsers it reads Asterisk's answers with: the
# verification's own (roles/shared), shipped beside it and loaded under their own names.
BOARD = Path(__file__).parent / "files" / "board.py"
BOARD_CONFIG_FILE = "board.json"
BOARD_MODULES = {
    "board-names.py": ("roles.shared.names", Path(names.__file__)),
    "board-sections.py": ("roles.shared.sections", Path(sections.__file__)),
    "board-pbxcli.py": ("roles.shared.pbxcli", Path(pbxcli.__file__)),
    "board-callstats.py": ("roles.calllog.stats", calllog.STATS_FILE),  # the call log's statistics
    "board-callrows.py": ("roles.calllog.export", calllog.EXPORT_FILE),  # ... over its rows
}
# The crew's password, hashed (scrypt), outside the Nix store: root:asterisk 0640 in a 0750
# directory of its own (the page may not see /var/lib/televoc, where the SIP passwords are).
BOARD_HASH = "/var/lib/televoc-board/crew.scrypt"
# When each phone was last seen registered, kept by the page in its own state directory (its
# user's; the self-service database's), so that a restart still shows who is gone since when.
BOARD_SEEN = posixpath.join(posixpath.dirname(names.SELFSERVICE_DB), "board-seen.json")
SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # about 16 MB and 50 ms per check
BOARD_REFRESH_SECONDS = 5  # the page reloads itself (meta refresh: no JavaScript)
BOARD_CACHE_SECONDS = 3  # one read of Asterisk serves every crew browser for this long
# The phones' aors' qualify_frequency and qualify_timeout (roles/asterisk/render.py
# AOR_OPTIONS; a unit test holds them equal): how soon a silent phone shows not answering.
QUALIFY_SECONDS = 30
QUALIFY_TIMEOUT = 3


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
        "temporary_context": names.TEMPORARY_CONTEXT,  # the views' context of a temporary number
    }
    if s.claim_days is not None:
        settings["claim_days"] = str(s.claim_days)
    return Database(serves=True, wanted={"settings": settings, "endpoint_defaults": dict(endpoint_defaults)})


@dataclass(frozen=True)
class PageService:
    """The web application on the PBX (files/page.py): the registration page where
    self-service is served, the crew's board (files/board.py) where `board:` is on.

    + service: its systemd unit and its log directory
    + bind, port: where it listens (event.yml pbx_address, self_service.page_port or board.port)
    + network: who may reach it (the phone network: the event network)
    + arguments: its command line, beside the templates file (TEMPLATES_FILE)
    + registration, board: what it serves
    + board_config: the board's settings and phones (BOARD_CONFIG_FILE), when it serves the board
    """

    bind: str
    port: int
    network: str
    arguments: str
    service: str = "televoc-page"
    registration: bool = True
    board: bool = False
    board_config: str = ""

    @property
    def log_path(self) -> str:
        return f"/var/log/{self.service}/page.log"


TEMPLATES_FILE = "page-templates.json"  # the page's templates, one file beside the module


def page_service(directory: Directory, provisioning_state: str | None = None) -> PageService | None:
    """The web application `directory` serves (None: this PBX serves neither self-service nor
    the board). `provisioning_state`: the provisioning server's state file (None: no
    provisioning), which the board reads for when each phone last fetched its settings."""
    s = directory.event.self_service
    registration, board = registration_on(directory), board_on(directory)
    if not registration and not board:
        return None
    event = directory.event
    bind = event.pbx_address or "0.0.0.0"  # without it: every address, the firewall opens it to the network only
    port = int(s.page_port) if registration and s is not None else int(event.board.port)  # type: ignore[union-attr]
    log = f"/var/log/{PageService.service}/page.log"
    if registration and s is not None:
        arguments = (
            f"--db {names.SELFSERVICE_DB} --bind {bind} --port {port} --claim-code '{s.claim_code}' --log {log} "
            f"--templates ${{./{TEMPLATES_FILE}}} --claimsdb ${{./{CLAIMSDB.name}}}"
        )
        if event.pbx_address:
            arguments += f" --sip-server {event.pbx_address}"
    else:  # the board alone
        arguments = f"--bind {bind} --port {port} --log {log} --templates ${{./{TEMPLATES_FILE}}}"
    config = ""
    if board:
        arguments += f" --board ${{./{BOARD.name}}} --board-config ${{./{BOARD_CONFIG_FILE}}}"
        arguments += "".join(f" --board-module {module}=${{./{file}}}" for file, (module, _) in BOARD_MODULES.items())
        arguments += " --asterisk ${config.services.asterisk.package}/bin/asterisk"
        config = board_config(directory, provisioning_state)
    return PageService(
        bind=bind,
        port=port,
        network=event.network,
        arguments=arguments,
        registration=registration,
        board=board,
        board_config=config,
    )


def registration_on(directory: Directory) -> bool:
    """Whether this PBX serves the registration page (self-service, enabled, here)."""
    return directory.event.self_service is not None and temporary_calls(directory) is not None


def board_on(directory: Directory) -> bool:
    """Whether this PBX serves the crew's board (event.yml board:, enabled). With venues,
    every venue's PBX serves a board of its own phones and its peers."""
    board = directory.event.board
    return board is not None and board.enabled and directory.board_password is not None


def board_files(directory: Directory) -> list[str]:
    """The names of the files the board ships beside the module (none without a board)."""
    return [BOARD.name, BOARD_CONFIG_FILE, *BOARD_MODULES] if board_on(directory) else []


def board_config(directory: Directory, provisioning_state: str | None) -> str:
    """The board's settings and every phone of the directory it shows, as JSON: number,
    name, location, provisioned (and its MAC, to find its fetches); no password, no secret."""
    event = directory.event
    phones = [
        {
            "name": a.name,
            "number": a.extension,
            "display": a.display_name,
            "location": a.location or "",
            "provisioned": a.provisioned,
            "mac": a.mac.replace(":", "").upper() if a.provisioned and a.mac else None,
        }
        for a in directory.accounts
    ]
    s = event.self_service
    trunk = None
    if directory.trunk is not None:
        t = directory.trunk.trunk
        trunk = [names.TRUNK, f"{t.username} at {t.registrar}"]
    peers = [[names.VENUE_PREFIX + p.name, p.name] for p in directory.venue.peers] if directory.venue else []
    config = {
        "event": event.name,
        "phones": phones,
        "trunk": trunk,
        "peers": peers,
        "claimable": [s.claimable.first, s.claimable.last] if s is not None and s.enabled else None,
        "hash": BOARD_HASH,
        "seen_file": BOARD_SEEN,
        "etc": "/etc/asterisk/asterisk.conf",
        "provisioning_state": provisioning_state,
        "refresh_seconds": BOARD_REFRESH_SECONDS,
        "cache_seconds": BOARD_CACHE_SECONDS,
        "qualify_seconds": QUALIFY_SECONDS + QUALIFY_TIMEOUT,
        # the call log's statistics (event.yml call_log:, off by default): Asterisk's database, read-only
        "call_log": {"db": names.CALL_LOG_DB, "table": names.CALL_LOG_TABLE} if event.call_log.enabled else None,
    }
    return json.dumps(config, sort_keys=True, indent=1) + "\n"


@dataclass(frozen=True)
class BoardCrew:
    """The crew's password for the board as the PBX keeps it: hashed, in a file outside the
    Nix store (BOARD_HASH). `hashed` is never printed (repr=False)."""

    path: str
    hashed: str = field(repr=False)


def board_crew(directory: Directory) -> BoardCrew | None:
    """The crew's password hashed with scrypt (the salt: from the event's name, so the file
    changes only when the password does; a no-change run compares its digest)."""
    if not board_on(directory) or directory.board_password is None:
        return None
    salt = hashlib.sha256(f"televoc/board-salt/{directory.event.name}".encode()).digest()[:16]
    key = hashlib.scrypt(directory.board_password.encode(), salt=salt, maxmem=64 * 2**20, dklen=32, **SCRYPT)
    hashed = f"scrypt:{SCRYPT['n']}:{SCRYPT['r']}:{SCRYPT['p']}:{salt.hex()}:{key.hex()}\n"
    return BoardCrew(path=BOARD_HASH, hashed=hashed)


def page_templates() -> str:
    """Every template of the page in one JSON text (name -> template): one file to ship."""
    files = sorted(PAGE_TEMPLATES.glob("*.html"))
    return json.dumps({f.name: f.read_text(encoding="utf-8") for f in files}, sort_keys=True, indent=1) + "\n"


def board_embedded(page: PageService) -> list[tuple[str, str, str]]:
    """(file name, kind, text) of each file the board ships beside the module: its code, its
    settings and phones, the parsers it shares with the deploy."""
    files = [(BOARD.name, "board", BOARD.read_text(encoding="utf-8")), (BOARD_CONFIG_FILE, "config", page.board_config)]
    files += [(name, "parser", path.read_text(encoding="utf-8")) for name, (_, path) in BOARD_MODULES.items()]
    return files
