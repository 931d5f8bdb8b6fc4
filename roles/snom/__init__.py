"""snom phones: provisioning (televoc's own server), resync NOTIFYs, adopt, teardown."""

from .deploy import (
    SETTINGS,
    changed_phones_resynced,
    phones_adopted,
    phones_wiped,
    provisioning_checked,
    publication,
    provisioning_published,
    provisioning_server,
    teardown_judged,
    teardown_started,
)
from .render import provisioning_url, render_provisioning, render_wipe
from .teardown import Outcome, TeardownRecord

__all__ = [
    "SETTINGS",
    "Outcome",
    "TeardownRecord",
    "changed_phones_resynced",
    "phones_adopted",
    "phones_wiped",
    "provisioning_checked",
    "publication",
    "provisioning_published",
    "provisioning_server",
    "provisioning_url",
    "render_provisioning",
    "render_wipe",
    "teardown_judged",
    "teardown_started",
]
