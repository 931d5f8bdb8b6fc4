"""What a teardown removed from one PBX and what is left of the event there, said once.

teardown.py makes one Leftovers per host; each role's teardown steps write into it while they
execute (what they removed, what they could not), and reported(), the last step, says it in
one message and fails the run while anything is left:

    leftovers = Leftovers()
    asterisk.event_removed(plan.asterisk, snapshot, leftovers)
    snom.teardown_judged(record, outcome, leftovers)
    leftovers_reported(leftovers)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyinfra import logger
from pyinfra.api import FunctionCommand, operation

from roles.shared import runs
from roles.shared.ops import deploy

INCOMPLETE = "teardown incomplete"
COMPLETE = "teardown complete: nothing of the event is left on this PBX or its phones"
NOTHING_LEFT = (
    "nothing left: nothing of the event was on this PBX or its phones any more; this teardown had nothing to remove"
)


@dataclass
class Leftovers:
    """One PBX's teardown, filled in by the steps while they execute.

    + removed: what this run removed, one phrase each ('from Asterisk: 2 endpoints, ...')
    + left: what is still there and why, one phrase each, with what to do
    """

    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def verdict(leftovers: Leftovers) -> tuple[bool, list[str]]:
    """(complete, the lines that say it): one message for the PBX."""
    if leftovers.left:
        lines = [f"{INCOMPLETE}: still left of the event on this PBX or its phones:"]
        lines += [f"    {item}" for item in leftovers.left]
        if leftovers.removed:
            lines.append(f"    (this run removed: {'; '.join(leftovers.removed)})")
        lines.append("    Each line says what to do; then run teardown again.")
        return False, lines
    if not leftovers.removed:
        return True, [NOTHING_LEFT]
    return True, [f"{COMPLETE}; this run removed:", *(f"    {item}" for item in leftovers.removed)]


def _report(state, host, leftovers: Leftovers) -> bool:
    complete, lines = verdict(leftovers)
    say = logger.info if complete else logger.error
    say(f"{host.print_prefix}{lines[0]}")
    for line in lines[1:]:
        say(line)
    return complete


@operation(is_idempotent=False)
def teardown_reported(leftovers: Leftovers):
    """
    Say what this teardown removed from the PBX and its phones, or name everything that is
    left (and fail).

    + leftovers: what the steps before found
    """
    yield FunctionCommand(_report, (leftovers,), {})


@deploy("Teardown")
def leftovers_reported(leftovers: Leftovers):
    """Last step of teardown.py (before runs.finished): one message for the PBX."""
    teardown_reported(name=runs.check("Nothing of the event is left on this PBX or its phones"), leftovers=leftovers)
