"""Loads the event directory once, before pyinfra connects to any host.

A bad directory (malformed YAML, a typo in a key, a duplicate extension, a weak password, a
missing event secret) stops the run here, listing every problem, with no host touched.
The directory is group_data/event/ next to this file, or $TELEVOC_EVENT_DIR. Run settings
(`--data NAME=VALUE`) are declared by the roles, with their defaults (roles/*/deploy.py).
"""

import os
from pathlib import Path

from pyinfra.api.exceptions import InventoryError

from roles.event import EventError, load_directory

televoc_event_dir = os.environ.get("TELEVOC_EVENT_DIR") or str(Path(__file__).parent / "event")

try:
    televoc_directory = load_directory(televoc_event_dir)
except EventError as _error:
    raise InventoryError(str(_error)) from None

__all__ = ["televoc_event_dir", "televoc_directory"]
