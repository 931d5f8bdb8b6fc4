"""The time as televoc writes it into records on the PBX and into its messages."""

from __future__ import annotations

import time


def utc_stamp() -> str:
    """Now, in UTC, to the second: '2026-12-07T08:15:00Z'."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
