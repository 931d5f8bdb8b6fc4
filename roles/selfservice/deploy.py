"""The self-service database's steps, each a pyinfra deploy deciding from the run's snapshot.

snapshot = pbx.read(plan)                  # runs snapshot_commands(): the one read
state = selfservice.held(snapshot)         # what the database held
selfservice.claims_respected(event_dir, event, state)   # deploy: first, before any change
selfservice.database_migrated(plan.selfservice, state)  # deploy: after NixOS switched
selfservice.board_password_in_place(plan.board, snapshot)  # deploy: the crew's, hashed
selfservice.claims_exported(state)                      # teardown: CSV on this machine
selfservice.database_removed(state, leftovers)          # teardown: then the database goes
selfservice.board_password_removed(snapshot, leftovers)  # teardown: the crew's, hashed
"""

from __future__ import annotations

import posixpath
import shlex

from pyinfra import host
from pyinfra.api import HiddenValue

from roles.event import Directory
from roles.shared import names, pbxfacts
from roles.shared.files import managed_file, paths_absent
from roles.shared.leftovers import Leftovers
from roles.shared.ops import as_needed, deploy
from roles.shared.settings import Setting, declare, defaults, read, text
from roles.shared.snapshot import Snapshot, current_of

from . import operations
from .render import BOARD_HASH, BOARD_SEEN, BoardCrew, Database
from .state import NO_TOOL, DbState, parse

READ = "selfservice"  # the snapshot's output of `televoc-claims read`
SETTINGS = declare(
    Setting(
        "selfservice__export_dir",
        "reports",
        "teardown: where on this machine the claims are exported as <host>-claims.csv before the "
        "self-service database is removed (relative to where pyinfra runs).",
        text,
    ),
)
ALL_SETTINGS = (*pbxfacts.SETTINGS, *SETTINGS)


def snapshot_commands(claimable: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """The run's one read runs the database's command (no command yet: no database).
    `claimable`: the event's claimable range, where this PBX serves self-service: the claims
    in it are counted, not listed (no crew number can be one of them: the event's rules keep
    crew numbers out of the range), so the read stays one short line however many
    participants claimed; None: every claim is listed (self-service off, or a teardown).
    A command of an older televoc, still on the PBX until this run's switch, knows no
    --listed-outside: then it reads as before, every claim (and says why it cannot read)."""
    tool = shlex.quote(names.SELFSERVICE_TOOL)
    read = f"{tool} read 2>&1"
    if claimable:
        first, last = (shlex.quote(n) for n in claimable)
        read = f"{tool} read --listed-outside {first} {last} 2>/dev/null || {read}"
    return [(READ, f'if [ -x {tool} ]; then {read}; else echo \'{{"db": "{NO_TOOL}"}}\'; fi')]


def held(snapshot: Snapshot) -> DbState:
    """What the database held when the run began."""
    return parse(snapshot.outputs.get(READ))


@deploy("Self-service", data_defaults=defaults(ALL_SETTINGS))
def claims_respected(event_dir: str, event: Directory, state: DbState):
    """No crew number is a claimed one (the run stops before any change otherwise)."""
    operations.claims_respected(
        name="No crew number takes a participant's claimed number",
        event_dir=event_dir,
        directory=event,
        state=state,
    )


@deploy("Self-service", data_defaults=defaults(ALL_SETTINGS))
def database_migrated(db: Database, state: DbState):
    """The database exists, migrated, with the event's settings (after NixOS switched: its
    command and the asterisk user are in place)."""
    settings = read(ALL_SETTINGS)
    operations.database_migrated(
        name="The self-service database is in place (claims kept)",
        db=db,
        state=state,
        cli=settings.asterisk__cli,
    )


def export_path() -> str:
    """Where this host's claims are exported on the crew's machine."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in host.name)
    return posixpath.join(read(ALL_SETTINGS).selfservice__export_dir, f"{safe}-claims.csv")


@deploy("Self-service", data_defaults=defaults(ALL_SETTINGS))
def claims_exported(state: DbState):
    operations.claims_exported(
        name="The claims are exported for the crew",
        tool=names.SELFSERVICE_TOOL,
        state=state,
        path=export_path(),
    )


@deploy("Self-service", data_defaults=defaults(ALL_SETTINGS))
def database_removed(state: DbState, leftovers: Leftovers):
    operations.database_removed(
        name="The self-service database is removed",
        tool=names.SELFSERVICE_TOOL,
        state=state,
        removed=leftovers.removed,
    )


@deploy("Self-service", data_defaults=defaults(ALL_SETTINGS))
def board_password_in_place(crew: BoardCrew | None, snapshot: Snapshot | None):
    """The crew's password for the board, hashed, where the page reads it (after NixOS
    switched: the asterisk group exists). No board: nothing (a board turned off keeps its
    file until the teardown)."""
    if crew is None:
        return
    as_needed(snapshot)(
        managed_file,
        name="The crew's board password is in place, hashed, outside the Nix store (root:asterisk 0640)",
        path=crew.path,
        content=HiddenValue(crew.hashed),
        mode="640",
        group="asterisk",
        dir_mode="750",
        unchanged="The board keeps the crew's password it had.",
        **current_of(snapshot, crew.path),
    )


@deploy("Self-service", data_defaults=defaults(ALL_SETTINGS))
def board_password_removed(snapshot: Snapshot | None, leftovers: Leftovers):
    """Teardown: the crew's hashed password and its directory are gone, and the page's record
    of when it last saw each phone."""
    paths = [posixpath.dirname(BOARD_HASH), BOARD_SEEN]
    present = None
    if snapshot is not None and all(p in snapshot.digests for p in (BOARD_HASH, BOARD_SEEN)):
        present = [path for path, file in zip(paths, (BOARD_HASH, BOARD_SEEN), strict=True) if snapshot.digests[file]]
    as_needed(snapshot)(
        paths_absent,
        name="The crew's board password and the board's record are removed from the PBX",
        paths=paths,
        removed=leftovers.removed,
        present=present,
    )
