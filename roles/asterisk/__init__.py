"""Asterisk: render pjsip/extensions config, install secrets, reload, verify registrations."""

from .render import AsteriskConfig, render_asterisk

__all__ = ["AsteriskConfig", "render_asterisk"]
