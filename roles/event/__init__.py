"""The event directory: YAML in, a validated `Directory` out."""

from .load import EventError, create_secret, derive_password, load_directory, secret_path
from .model import Account, Directory, Event

__all__ = [
    "Account",
    "Directory",
    "Event",
    "EventError",
    "create_secret",
    "derive_password",
    "load_directory",
    "secret_path",
]
