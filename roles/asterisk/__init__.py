"""Asterisk: render pjsip/extensions config and the passwords beside it, make it live, verify
registrations."""

from .deploy import (
    ALL_SETTINGS,
    CREDENTIALS_FILE,
    SETTINGS,
    SUMMARY_FILE,
    beside_secrets,
    contacts_removed_before_stop,
    event_removed,
    event_served,
    passwords_bridged,
    phones_accounted,
    phones_verified,
    snapshot_commands,
    snapshot_paths,
    snapshot_texts,
    trunk_withdrawn,
)
from .render import (
    CONF_FILES,
    SECRETS_PATH,
    SECURITY_LOG,
    AsteriskConfig,
    conf_file_names,
    realtime_defaults,
    render_asterisk,
    render_teardown,
)
from .report import RunChanges

__all__ = [
    "ALL_SETTINGS",
    "CONF_FILES",
    "conf_file_names",
    "CREDENTIALS_FILE",
    "SECRETS_PATH",
    "SECURITY_LOG",
    "SETTINGS",
    "SUMMARY_FILE",
    "AsteriskConfig",
    "RunChanges",
    "beside_secrets",
    "contacts_removed_before_stop",
    "event_removed",
    "event_served",
    "passwords_bridged",
    "phones_accounted",
    "phones_verified",
    "realtime_defaults",
    "render_asterisk",
    "render_teardown",
    "snapshot_commands",
    "snapshot_paths",
    "snapshot_texts",
    "trunk_withdrawn",
]
