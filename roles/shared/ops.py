"""Create an operation only when it has something to do.

pyinfra spends real time on every operation it is given (it reads the whole call stack,
source lines included, to order it): at a few thousand phones that cost is most of what a run
with nothing to change adds to pyinfra's own floor. A step whose decision comes from the run's
snapshot can tell before the operation exists whether it would change anything: when_needed()
runs the operation's decision (its generator, up to its first command) and creates the
operation only if there is one; otherwise the operation's "noop: ..." line is all that
remains, as it would have been.

    when_needed(managed_file, name="...", path=..., content=..., current=snapshot.digests[path])
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from pyinfra.api import deploy as pyinfra_deploy

F = TypeVar("F", bound=Callable[..., Any])

_PROBING = [False]


def probing() -> bool:
    """True while when_needed() runs a decision: review output (--diff, "will change") waits
    for the operation itself."""
    return _PROBING[0]


@contextmanager
def _probe():
    _PROBING[0] = True
    try:
        yield
    finally:
        _PROBING[0] = False


def when_needed(operation, **kwargs):
    """`operation(**kwargs)` when its decision yields a command; None when it has nothing to do
    (its noop message is printed). Only for operations that decide from what they are given
    (the snapshot), not from facts they read themselves."""
    arguments = {k: v for k, v in kwargs.items() if not k.startswith("_") and k != "name"}
    with _probe():
        decision = operation._inner(**arguments)
        try:
            next(decision)
        except StopIteration:
            return None
        finally:
            decision.close()
    return operation(**kwargs)


def now(operation, **kwargs):
    """`operation(**kwargs)`, created whatever it has to do (no snapshot to decide from)."""
    return operation(**kwargs)


def as_needed(snapshot):
    """How a step creates its operations: when_needed() when the run's snapshot was taken
    (the operation decides from it), else now() (the operation reads the host itself)."""
    return when_needed if snapshot is not None else now


def deploy(name: str, data_defaults: dict | None = None) -> Callable[[F], F]:
    """pyinfra's `@deploy`, typed as the function it wraps: pyinfra types a deploy like an
    operation (its global arguments first, OperationMeta back); televoc's deploys take their
    own arguments and return their own values (a Snapshot, a Publication, ...), as pyinfra
    passes them through at run time."""
    return cast(Callable[[F], F], pyinfra_deploy(name, data_defaults))
