"""snom phones: provisioning files served by the PBX, resync NOTIFYs, adopt, teardown."""

from .render import provisioning_url, render_provisioning, render_wipe

__all__ = ["provisioning_url", "render_provisioning", "render_wipe"]
