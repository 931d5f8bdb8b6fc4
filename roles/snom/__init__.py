"""snom phones: provisioning files served by the PBX, resync NOTIFYs, adopt, teardown."""

from .deploy import (
    SETTINGS,
    Holdouts,
    changed_phones_resynced,
    phones_adopted,
    phones_wiped,
    provisioning_published,
    teardown_finished,
)
from .render import provisioning_url, render_provisioning, render_wipe

__all__ = [
    "SETTINGS",
    "Holdouts",
    "changed_phones_resynced",
    "phones_adopted",
    "phones_wiped",
    "provisioning_published",
    "provisioning_url",
    "render_provisioning",
    "render_wipe",
    "teardown_finished",
]
