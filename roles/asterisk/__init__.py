"""Asterisk: render pjsip/extensions config, install secrets, reload, verify registrations."""

from .deploy import SETTINGS, event_removed, event_served, phones_accounted, phones_verified
from .render import AsteriskConfig, render_asterisk
from .report import RunChanges

__all__ = [
    "SETTINGS",
    "AsteriskConfig",
    "RunChanges",
    "event_removed",
    "event_served",
    "phones_accounted",
    "phones_verified",
    "render_asterisk",
]
