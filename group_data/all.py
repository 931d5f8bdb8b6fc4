"""Loads the event directory once, before pyinfra connects to any host.

A bad directory (malformed YAML, a typo in a key, a duplicate extension, a weak password, a
missing event secret) stops the run here, listing every problem, with no host touched.
The directory is group_data/event/ next to this file, or $TELEVOC_EVENT_DIR. Run settings
(`--data NAME=VALUE`) are declared by the roles, with their defaults (roles/*/deploy.py).

When the run is deploy.py and the event has no venues, the deploy's plan starts rendering
here, once the directory is valid, in a thread of its own while pyinfra connects
(roles/pbx.py render_ahead; deploy.py takes it only if its settings render the same).

pyinfra's CLI turns off writing bytecode (its deploy files it compiles itself), so televoc's
modules would be compiled from their source on every run (about 0.08 CPU s for roles/);
while this file imports them, Python caches them as usual (__pycache__/, as any import
does), unless Python itself was told not to (-B, PYTHONDONTWRITEBYTECODE).
"""

import os
import sys
from pathlib import Path

_pyinfra_choice, sys.dont_write_bytecode = sys.dont_write_bytecode, bool(sys.flags.dont_write_bytecode)
try:
    from roles.event import EventError, event_directory

    televoc_event_dir = os.environ.get("TELEVOC_EVENT_DIR") or str(Path(__file__).parent / "event")

    try:
        _directory = event_directory(televoc_event_dir)  # the deploy files take it from there (no secrets in data)
    except EventError as _error:
        # The problems are the whole message: no pyinfra traceback line in front of them.
        print(f"televoc: {_error}", file=sys.stderr)
        raise SystemExit(1) from None

    if not _directory.event.venues and any(Path(_arg).name == "deploy.py" for _arg in sys.argv[1:]):
        from roles import pbx

        pbx.render_ahead(_directory, televoc_event_dir)  # while pyinfra connects
    del _directory
finally:
    sys.dont_write_bytecode = _pyinfra_choice

__all__ = ["televoc_event_dir"]
