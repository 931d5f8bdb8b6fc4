"""pyinfra operations on the self-service database: each decides from the run's snapshot
(state.DbState) and sends one command when it has work."""

from __future__ import annotations

import os
import shlex
from io import StringIO

from pyinfra import host, logger
from pyinfra.api import FileUploadCommand, FunctionCommand, OperationError, StringCommand, operation

from roles.event import Directory, EventError, load_directory

from . import schema
from .render import Database
from .state import ABSENT, NO_TOOL, PRESENT, UNREADABLE, DbState, colliding

# Where a migration's SQL and the settings go up, beside televoc's other state (root's).
STAGING = "/var/lib/televoc"
FILE_MODE = "0660"


@operation()
def claims_respected(event_dir: str, directory: Directory, state: DbState):
    """
    No crew number of the event is a number a participant holds: a deploy never takes a
    claim over. Stops the run before anything changes, naming each claim where the crew
    wrote the number (the event's rules, given the claims).

    + event_dir: the event directory (read again, with the claims, only on a collision)
    + directory: the whole event, as loaded before the run
    + state: the database as the snapshot read it
    """
    if state.status == UNREADABLE:
        raise OperationError(
            f"the self-service database could not be read ({state.error}): a deploy that cannot see the "
            "claims could take one over. Look at it on the PBX (televoc-claims read), then run again."
        )
    if colliding(state.claims, directory):
        try:
            load_directory(event_dir, claims=state.claims)
        except EventError as e:
            raise OperationError(f"a crew number is a participant's claimed number: {e}") from None
    held = state.count
    host.noop(f"{held} claimed numbers held, none of them a crew number" if held else "no number is claimed")
    yield from ()


@operation()
def database_migrated(db: Database, state: DbState, cli: str):
    """
    The self-service database exists with the newest schema and the event's settings, the
    asterisk user's, 0660 in a 2770 directory: created, or migrated in one transaction
    (Alembic's SQL); never a claim dropped or rewritten. A database made in this run is
    opened by Asterisk's realtime driver at once (`module reload res_config_sqlite3.so`:
    the driver, not PJSIP: no phone is touched).

    + db: what the plan wants (db.serves False: the database is left as it is)
    + state: the database as the snapshot read it
    + cli: Asterisk's CLI command (with -C)
    """
    if not db.serves:
        host.noop(
            "self-service is off here: the database is left as it is"
            + (f" ({state.count} claims kept)" if state.count else "")
        )
        return
    current = state.revision if state.status == PRESENT else None
    sql = schema.upgrade_sql(current)
    settled = (
        state.status == PRESENT
        and not sql
        and state.mode == FILE_MODE
        and state.settings == dict(db.wanted.get("settings", {}))
        and state.defaults == dict(db.wanted.get("endpoint_defaults", {}))
    )
    if settled:
        host.noop(f"the self-service database is at revision {schema.HEAD} with the event's settings")
        return
    sql_path, wanted_path = f"{STAGING}/selfservice-migrate.sql", f"{STAGING}/selfservice-wanted.json"
    yield StringCommand("mkdir", "-p", "-m", "0755", STAGING)
    yield FileUploadCommand(StringIO(sql), sql_path, remote_temp_filename=None)
    yield FileUploadCommand(StringIO(db.wanted_json), wanted_path, remote_temp_filename=None)
    # The tool runs as the database's owner; the staged files must be readable to it.
    yield StringCommand("chmod", "0644", sql_path, wanted_path)
    yield StringCommand(db.tool, "migrate", sql_path, wanted_path, "&&", "rm", "-f", sql_path, wanted_path)
    if state.status != PRESENT:
        yield FunctionCommand(_driver_reopened, (cli,), {})


def _driver_reopened(state, host, cli: str) -> bool:
    """Asterisk's realtime driver opens the database made in this run (it could not when
    Asterisk started before it existed). Asterisk not running: it opens it when it starts."""
    command = f"{cli} -rx {shlex.quote('module reload res_config_sqlite3.so')}"
    status, output = host.run_shell_command(StringCommand(command), print_output=False)
    text = " ".join(output.stdout_lines + output.stderr_lines)
    if "Unable to connect" in text:
        return True
    if "reloaded successfully" not in text and "Module 'res_config_sqlite3.so' reloaded" not in text:
        logger.error(f"{host.print_prefix}Asterisk's realtime driver did not reload: {text[:300]}")
        return False
    return True


@operation()
def claims_exported(tool: str, state: DbState, path: str):
    """
    Every claim is written to `path` on this machine (CSV: number, name, in_directory, kind,
    created, expires; no secret), before the database goes.

    + tool: the database's command on the PBX
    + state: the database as the snapshot read it (no database: nothing to export)
    + path: the CSV on the crew's machine
    """
    if state.status not in (PRESENT, UNREADABLE):
        host.noop("no self-service database: no claims to export")
        return
    yield FunctionCommand(_export, (tool, path), {})


def _export(state, host, tool: str, path: str) -> bool:
    status, output = host.run_shell_command(StringCommand(tool, "export"), print_output=False)
    if not status:
        logger.error(f"{host.print_prefix}the claims could not be exported: {' '.join(output.stderr_lines)[:300]}")
        return False
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(output.stdout_lines) + "\n")
    logger.info(f"{host.print_prefix}{len(output.stdout_lines) - 1} claims exported to {path}")
    return True


@operation()
def database_removed(tool: str, state: DbState, removed: list[str]):
    """
    The self-service database and its directory are gone (after claims_exported).

    + tool: the database's command on the PBX
    + state: the database as the snapshot read it
    + removed: what the teardown removed (a phrase is added)
    """
    if state.status in (NO_TOOL, ABSENT):
        host.noop("no self-service database")
        return
    yield StringCommand(tool, "remove")
    yield FunctionCommand(_noted, (removed, f"the self-service database ({state.count} claims, exported)"), {})


def _noted(state, host, removed: list[str], text: str) -> bool:
    removed.append(text)
    return True
