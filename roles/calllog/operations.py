"""pyinfra operations on the call log (names.CALL_LOG_DB): each decides from what the run's
one read found (`state`: "asterisk:asterisk 640", or "absent") and sends a command only when
it has work."""

from __future__ import annotations

import os
import re
import shlex
import tempfile

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, StringCommand, operation

from . import export

OWNED = "asterisk:asterisk 640"
ABSENT = "absent"
MODULE = "cdr_sqlite3_custom.so"


@operation()
def call_log_in_place(enabled: bool, path: str, state: str, switched: bool, cli: str):
    """
    With the call log on: its file is the asterisk user's, 0640 (Asterisk would make it
    world-readable), and Asterisk runs its module (loaded when the config that names it came
    with this run's switch). Off: nothing is sent.

    + enabled: event.yml call_log.enabled
    + path: the database (names.CALL_LOG_DB)
    + state: its owner and mode as the run's one read found them ("absent": no file)
    + switched: NixOS switched in this run (the module's config may be new to Asterisk)
    + cli: Asterisk's CLI command (with -C)
    """
    if not enabled:
        host.noop(
            "the call log is off: Asterisk writes no call records"
            + ("" if state == ABSENT else f" (a call log of earlier is on the PBX: {path}; teardown removes it)")
        )
        return
    if state == OWNED and not switched:
        host.noop(f"the call log is in place ({path}, {OWNED})")
        return
    q = shlex.quote(path)
    yield StringCommand(
        f"if [ -e {q} ]; then chown asterisk:asterisk {q} && chmod 0640 {q}; "
        f"else install -m 0640 -o asterisk -g asterisk /dev/null {q}; fi"
    )
    yield FunctionCommand(_module_running, (cli,), {})


def _module_running(state, host, cli: str) -> bool:
    """Asterisk runs cdr_sqlite3_custom (loaded now if Asterisk started before its config
    existed); Asterisk not running: it loads it when it starts."""
    show = f"{cli} -rx {shlex.quote('module show like ' + MODULE)}"
    for attempt in range(2):
        _, output = host.run_shell_command(StringCommand(show), print_output=False)
        text = "\n".join(output.stdout_lines + output.stderr_lines)
        if "Unable to connect" in text:
            return True
        if re.search(rf"^{re.escape(MODULE)}\s.*\bRunning\b", text, re.M):
            return True
        if attempt == 0:
            host.run_shell_command(
                StringCommand(f"{cli} -rx {shlex.quote('module load ' + MODULE)}"), print_output=False
            )
    logger.error(f"{host.print_prefix}Asterisk did not load {MODULE}: no call would be logged. It said: {text[:300]}")
    return False


@operation()
def call_log_exported(path: str, state: str, csv_path: str, table: str):
    """
    The call log is copied to this machine and written as CSV to `csv_path` (every row as
    Asterisk wrote it), with the SQLite file beside it (`.sqlite3`).

    + path: the database on the PBX
    + state: what the run's one read found ("absent": nothing to export)
    + csv_path: the CSV on the crew's machine
    + table: the database's table (names.CALL_LOG_TABLE)
    """
    if state == ABSENT:
        host.noop("no call log on the PBX: nothing to export")
        return
    yield FunctionCommand(_exported, (path, csv_path, table), {})


def _exported(state, host, path: str, csv_path: str, table: str) -> bool:
    os.makedirs(os.path.dirname(csv_path) or ".", exist_ok=True)
    copy = csv_path.removesuffix(".csv") + ".sqlite3"
    with tempfile.NamedTemporaryFile(dir=os.path.dirname(csv_path) or ".", delete=False) as tmp:
        pass
    try:
        if not host.get_file(path, tmp.name):
            logger.error(f"{host.print_prefix}the call log {path} could not be copied")
            return False
        rows = export.rows_of(tmp.name, table)
        export.write_csv(rows, csv_path)
        os.replace(tmp.name, copy)
        os.chmod(copy, 0o600)
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    logger.info(f"{host.print_prefix}{len(rows)} call records exported to {csv_path} (the database: {copy})")
    return True


@operation()
def call_log_removed(path: str, state: str, cli: str, removed: list[str], left: list[str]):
    """
    The call log is gone from the PBX (after call_log_exported): Asterisk lets go of it
    (its module unloaded), then the file and SQLite's journal are deleted, and the run
    checks that none is left.

    + path: the database on the PBX
    + state: what the run's one read found
    + cli: Asterisk's CLI command (with -C)
    + removed, left: what the teardown removed, what is left (a phrase is added to one)
    """
    if state == ABSENT:
        host.noop("no call log on the PBX")
        return
    q = shlex.quote(path)
    unload = shlex.quote(f"module unload {MODULE}")
    yield StringCommand(f"{cli} -rx {unload} >/dev/null 2>&1; rm -f {q} {q}-journal {q}-wal {q}-shm")
    yield FunctionCommand(_gone, (path, removed, left), {})


def _gone(state, host, path: str, removed: list[str], left: list[str]) -> bool:
    q = shlex.quote(path)
    status, output = host.run_shell_command(
        StringCommand(f"ls -d {q} {q}-journal {q}-wal 2>/dev/null; true"), print_output=False
    )
    still = [line.strip() for line in output.stdout_lines if line.strip()]
    if still:
        left.append(f"the call log ({', '.join(still)}): remove it by hand")
    else:
        removed.append(f"the call log ({path}, exported)")
    return True
