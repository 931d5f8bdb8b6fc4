"""Waiting for something the lab will do, bounded in time and in count."""

from __future__ import annotations

import time


def until(predicate, seconds: float, step: float = 0.25) -> float | None:
    """Seconds until predicate() was true, or None if it was not within `seconds`."""
    started = time.monotonic()
    for _ in range(int(seconds / step) + 1):
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            break
        time.sleep(step)
    return None


def wait_for(predicate, seconds: float, what: str, step: float = 0.5) -> float:
    """Like until(), but an AssertionError naming `what` when it does not happen."""
    took = until(predicate, seconds, step)
    if took is None:
        raise AssertionError(f"timed out after {seconds} s waiting for {what}")
    return took
