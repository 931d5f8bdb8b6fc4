"""The call log's steps, each a pyinfra deploy deciding from the run's one read.

snapshot = pbx.read(plan)                        # runs snapshot_commands(): the one read
calllog.call_log_in_place(enabled, snapshot, switched)   # deploy: after Asterisk is served
calllog.call_log_exported(snapshot)              # calls.py and teardown: CSV on this machine
calllog.call_log_removed(snapshot, leftovers)    # teardown: then the file goes
"""

from __future__ import annotations

import posixpath
import shlex

from pyinfra import host

from roles.shared import names, pbxfacts
from roles.shared.leftovers import Leftovers
from roles.shared.ops import as_needed, deploy
from roles.shared.settings import Setting, declare, defaults, read, text
from roles.shared.snapshot import Snapshot

from . import operations

READ = "calllog"  # the snapshot's output: the file's owner and mode, or "absent"
SETTINGS = declare(
    Setting(
        "calllog__export_dir",
        "reports",
        "calls.py and teardown: where on this machine the call log is exported as <host>-calls.csv "
        "(and <host>-calls.sqlite3) before teardown removes it (relative to where pyinfra runs).",
        text,
    ),
)
ALL_SETTINGS = (*pbxfacts.SETTINGS, *SETTINGS)


def snapshot_commands() -> list[tuple[str, str]]:
    """The run's one read: the call log's owner and mode (no file: "absent")."""
    q = shlex.quote(names.CALL_LOG_DB)
    return [(READ, f"stat -c '%U:%G %a' {q} 2>/dev/null || echo {operations.ABSENT}")]


def state_of(snapshot: Snapshot) -> str:
    lines = [line.strip() for line in snapshot.outputs.get(READ) or [] if line.strip()]
    return lines[-1] if lines else operations.ABSENT


def export_path(directory: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in host.name)
    return posixpath.join(directory, f"{safe}-calls.csv")


@deploy("Call log", data_defaults=defaults(ALL_SETTINGS))
def call_log_in_place(enabled: bool, snapshot: Snapshot, switched: bool):
    """With `call_log:` on, the database is the asterisk user's, 0640, and Asterisk writes it."""
    settings = read(ALL_SETTINGS)
    as_needed(snapshot)(
        operations.call_log_in_place,
        name="The call log is written by Asterisk, readable by it alone" if enabled else "No call log is written",
        enabled=enabled,
        path=names.CALL_LOG_DB,
        state=state_of(snapshot),
        switched=switched,
        cli=settings.asterisk__cli,
    )


@deploy("Call log", data_defaults=defaults(ALL_SETTINGS))
def call_log_exported(snapshot: Snapshot) -> str:
    """The call log as CSV on this machine; returns where."""
    settings = read(ALL_SETTINGS)
    path = export_path(settings.calllog__export_dir)
    as_needed(snapshot)(
        operations.call_log_exported,
        name="The call log is exported for the crew",
        path=names.CALL_LOG_DB,
        state=state_of(snapshot),
        csv_path=path,
        table=names.CALL_LOG_TABLE,
    )
    return path


@deploy("Call log", data_defaults=defaults(ALL_SETTINGS))
def call_log_removed(snapshot: Snapshot, leftovers: Leftovers):
    settings = read(ALL_SETTINGS)
    as_needed(snapshot)(
        operations.call_log_removed,
        name="The call log is removed from the PBX",
        path=names.CALL_LOG_DB,
        state=state_of(snapshot),
        cli=settings.asterisk__cli,
        removed=leftovers.removed,
        left=leftovers.left,
    )
