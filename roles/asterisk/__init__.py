"""Asterisk: render pjsip/extensions config, install secrets, reload, verify registrations."""

from .deploy import SETTINGS, event_removed, event_served, phones_verified
from .render import AsteriskConfig, render_asterisk

__all__ = [
    "SETTINGS",
    "AsteriskConfig",
    "event_removed",
    "event_served",
    "phones_verified",
    "render_asterisk",
]
