"""The call log: what Asterisk wrote about each call (event.yml `call_log:`), read as rows and
turned into the crew's statistics (stats.py: pure, for the command and for the crew's board);
its steps: in place with the right owner and mode, exported to the crew's machine, removed at
teardown (deploy.py, operations.py; export.py reads a copy of the file as rows)."""

from pathlib import Path

from . import export, stats
from .deploy import (
    ALL_SETTINGS,
    SETTINGS,
    call_log_exported,
    call_log_in_place,
    call_log_removed,
    snapshot_commands,
    state_of,
)

# stats.py's and export.py's files: the crew's board ships them to the PBX beside its own code
# (standard library only): it reads the live call log and works out the same statistics.
STATS_FILE = Path(stats.__file__)
EXPORT_FILE = Path(export.__file__)

__all__ = [
    "ALL_SETTINGS",
    "SETTINGS",
    "STATS_FILE",
    "EXPORT_FILE",
    "call_log_exported",
    "call_log_in_place",
    "call_log_removed",
    "snapshot_commands",
    "state_of",
]
