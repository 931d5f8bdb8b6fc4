"""Client work a run does beside its remote commands.

A first deploy of 10,000 phones waits about 3 s on the PBX (NixOS switching, Asterisk
loading the accounts); what the client still has to work out after the plan (packing the
provisioning files, sealing the plan for the next run) is done meanwhile. pyinfra patches
`threading` with gevent, so the work runs in one of gevent's native threads (the hub's
threadpool), which has the CPU while the main thread waits on the network. The step that
needs the result takes it (`.get()`; an error in the work is raised there); the process
waits for every such work before it exits, so nothing is left half written.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from typing import Any

import gevent

FINISH_WITHIN = 60.0  # seconds the exiting process waits for work still running

_pending: list[Any] = []


def beside(work: Callable[..., Any], *args: Any) -> Any:
    """Start `work(*args)` now in a native thread; its gevent ThreadResult. Call it from the
    main thread (the threadpool is its hub's)."""
    result = gevent.get_hub().threadpool.spawn(work, *args)
    _pending.append(result)
    return result


@atexit.register
def _finish() -> None:
    """Wait for the work started beside the run (bounded: FINISH_WITHIN each)."""
    while _pending:
        try:
            _pending.pop().get(timeout=FINISH_WITHIN)
        except BaseException:  # noqa: BLE001 (its error was the step's to raise; here only the wait)
            pass
