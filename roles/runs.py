"""Whether the previous run finished: a marker on the PBX from the first step to the last.

pyinfra exits 0 when a run is interrupted with Ctrl-C, so a wrapper cannot tell. Every step
of televoc is state-based (it changes only what differs), so the next run finishes the work;
it also says that the previous one did not finish. The marker is written by the first step
of deploy.py / teardown.py / adopt.py and removed by the last; a run that stops in between
(Ctrl-C, a failed step, a dropped connection) leaves it.

    runs.started("deploy.py")     # first step: warns if the previous run left its marker
    ...
    runs.finished()               # last step
"""

from __future__ import annotations

import shlex
import time

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, StringCommand, deploy, operation

from roles.settings import Setting, absolute_path, declare, defaults, read

SETTINGS = declare(
    Setting("televoc_run_marker", "/var/lib/televoc-run/unfinished",
            "Written by a run's first step and removed by its last: the next run says when the "
            "previous one did not finish.", absolute_path),
)


def _start(state, host, path: str, what: str) -> bool:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    q = shlex.quote
    command = (f"mkdir -p {q(path.rsplit('/', 1)[0])} && "
               f"if [ -e {q(path)} ]; then LC_ALL=C tr -cd '[:print:]' < {q(path)}; echo; fi; "
               f"printf '%s\\n' {q(f'{what} started {stamp}')} > {q(path)}")
    status, output = host.run_shell_command(StringCommand("sh", "-c", q(command)), print_output=False)
    previous = " ".join(line.strip() for line in output.output_lines if line.strip())
    if previous:
        logger.warning(
            f"{host.print_prefix}the previous run ({previous}) did not finish: it was interrupted "
            "(Ctrl-C: pyinfra then exits 0), a step failed, or the connection dropped. This run "
            "finishes what it left: every step changes only what still differs."
        )
    return status


@operation(is_idempotent=False)
def run_marked(path: str, what: str):
    """
    Mark the run as started (removed again by run_unmarked); say if the previous run left its
    mark.

    + path: the marker on the PBX
    + what: the deploy file, for the message
    """
    yield FunctionCommand(_start, (path, what), {})


@operation(is_idempotent=False)
def run_unmarked(path: str):
    """
    The run got to its last step: remove the marker.

    + path: the marker on the PBX
    """
    yield StringCommand("rm", "-f", path)


@deploy("Run", data_defaults=defaults(SETTINGS))
def started(what: str):
    """First step of a deploy file."""
    run_marked(name=f"The run of {what} is marked as started", path=read(SETTINGS).televoc_run_marker, what=what)


@deploy("Run", data_defaults=defaults(SETTINGS))
def finished():
    """Last step of a deploy file."""
    run_unmarked(name="The run finished: its mark is removed", path=read(SETTINGS).televoc_run_marker)
