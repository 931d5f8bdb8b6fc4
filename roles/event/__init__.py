"""The event directory: YAML in, a validated `Directory` out."""

from functools import lru_cache

from .errors import EventError
from .load import load_directory, load_event
from .model import Account, DectBase, Directory, Event
from .secret import create_secret, derive_password, secret_path
from .venues import venue_directory


@lru_cache(maxsize=4)
def event_directory(path: str) -> Directory:
    """The validated directory at `path`, loaded once per process: group_data/all.py loads it
    before pyinfra connects, the deploy files take it from here. pyinfra's data holds only the
    path (it prints and serialises its data; the directory holds passwords)."""
    return load_directory(path)


def host_directory(data) -> Directory:
    """The Directory a PBX host serves (`data`: pyinfra's host.data): the event directory,
    cut to the host's venue (`televoc_venue` in inventory.py) when the event has venues."""
    return venue_directory(event_directory(data.televoc_event_dir), data.get("televoc_venue"))


__all__ = [
    "Account",
    "DectBase",
    "Directory",
    "Event",
    "EventError",
    "create_secret",
    "derive_password",
    "event_directory",
    "host_directory",
    "load_directory",
    "load_event",
    "secret_path",
    "venue_directory",
]
