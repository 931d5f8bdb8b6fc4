"""The preflight: is this box fit for the event, before buildup day? It reads, changes nothing.

pyinfra inventory.py preflight.py
"""

from .deploy import SETTINGS, host_fit

__all__ = ["SETTINGS", "host_fit"]
