"""Loads the event directory once, before pyinfra connects to any host.

A bad directory (malformed YAML, a typo in a key, a duplicate extension, a weak password, a
missing event secret) stops the run here, listing every problem, with no host touched.
The directory is group_data/event/ next to this file, or $TELEVOC_EVENT_DIR.
Also exposes every role default (roles/*/defaults.py) as data, so `--data NAME=VALUE` overrides it.
"""

import os
from pathlib import Path

from pyinfra.api.exceptions import InventoryError

from roles.asterisk import defaults as _asterisk_defaults
from roles.event import EventError, load_directory
from roles.nixos import defaults as _nixos_defaults
from roles.snom import defaults as _snom_defaults

_DEFAULTS = {
    key: value
    for module in (_asterisk_defaults, _nixos_defaults, _snom_defaults)
    for key, value in vars(module).items()
    if not key.startswith("_")
}
globals().update(_DEFAULTS)

televoc_event_dir = os.environ.get("TELEVOC_EVENT_DIR") or str(Path(__file__).parent / "event")

try:
    televoc_directory = load_directory(televoc_event_dir)
except EventError as _error:
    raise InventoryError(str(_error)) from None

__all__ = ["televoc_event_dir", "televoc_directory", *_DEFAULTS]
