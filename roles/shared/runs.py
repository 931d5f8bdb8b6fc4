"""Whether the previous run finished: a marker on the PBX while a run changes something.

A run can stop halfway: Ctrl-C (pyinfra's own handler would exit 0; televoc's, installed by
started(), exits 130 and says what holds), a failed step, a dropped connection. Every step of
televoc is state-based (it changes only what differs), so the next run finishes the work; it
also says that the previous one did not finish. The first step of a run writes the marker
when any later step is going to change something, and the last step removes it; a run that
stops in between (Ctrl-C, a failed step, a dropped connection) leaves it. A run that changes
nothing writes nothing (and costs no remote command here).

    run = runs.started("deploy.py", snapshot)    # first step
    ...
    runs.finished(run)                           # last step

Steps that only look (a verification, a report) are registered with `runs.check(name)` and
do not count as changes.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shlex
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, StringCommand, operation
from pyinfra.context import ctx_host, ctx_state

from roles.shared import connection
from roles.shared.clock import utc_stamp
from roles.shared.files import write_failure_cause
from roles.shared.ops import deploy
from roles.shared.settings import Setting, absolute_path, choice, declare, defaults, read

SETTINGS = declare(
    Setting(
        "televoc_run_marker",
        "/var/lib/televoc-run/unfinished",
        "Written by a run that changes something and removed by its last step: the next "
        "run says when the previous one did not finish.",
        absolute_path,
    ),
    Setting(
        "televoc_verify",
        "strict",
        "strict: the run fails naming every phone that is not ready; report: it only prints them.",
        choice("strict", "report"),
    ),
)
# Names of the steps that only look at the PBX (their `name=`, without pyinfra's deploy prefix).
CHECKS: set[str] = set()
MARKER_STEPS = ("The run is marked as changing the PBX", "The run finished: its mark is removed")


def snapshot_paths(settings) -> list[str]:
    """The text the run's one read of the PBX (roles/pbx.py) reads for started(): the marker."""
    return [settings.televoc_run_marker]


def check(name: str) -> str:
    """Register `name` as a step that changes nothing (returns it, for `name=`)."""
    CHECKS.add(name)
    return name


@dataclass
class Run:
    what: str
    path: str
    previous: object = None  # the marker's text left by an earlier run, "" none, None unread
    marked: bool = False
    not_files: dict[str, str] = field(default_factory=dict)  # from the snapshot: path -> kind


def _planned_changes(state, host) -> list[str]:
    """The names of this run's steps that are going to change something (pyinfra works that
    out by running each step's decision, as --dry does)."""
    changing = []
    for op_hash, data in state.ops[host].items():
        names = state.get_op_meta(op_hash).names
        plain = {n.rsplit(" | ", 1)[-1] for n in names}
        if plain & CHECKS or plain & set(MARKER_STEPS):
            continue
        if data.operation_meta.will_change:
            changing.extend(sorted(names))
    return changing


def _start(state, host, run: Run) -> bool:
    if run.not_files:  # before any change: a step would write into it, or read it as empty
        for path, kind in sorted(run.not_files.items()):
            logger.error(
                f"{host.print_prefix}{path} is a {kind}, where televoc keeps a file: nothing was changed, "
                "the PBX serves as before. Look at what it holds, move it away, and run again."
            )
        return False
    changing = _planned_changes(state, host)
    q = shlex.quote
    stamp = utc_stamp()
    read_previous = run.previous is None
    script = []
    if read_previous:
        script.append(f"if [ -e {q(run.path)} ]; then LC_ALL=C tr -cd '[:print:]' < {q(run.path)}; echo; fi")
    if changing:
        script.append(
            f"mkdir -p {q(run.path.rsplit('/', 1)[0])} && "
            f"printf '%s\\n' {q(f'{run.what} started {stamp}')} > {q(run.path)}"
        )
    elif run.previous:  # nothing left to change: what the earlier run left is done now
        script.append(f"rm -f {q(run.path)}")
    status = True
    if script:
        status, output = host.run_shell_command(StringCommand("sh", "-c", q("; ".join(script))), print_output=False)
        if read_previous:
            run.previous = " ".join(line.strip() for line in output.output_lines if line.strip())
    run.marked = bool(changing) and status
    if changing and not status:  # the first write of the run: nothing changed before it
        directory = run.path.rsplit("/", 1)[0]
        logger.error(
            f"{host.print_prefix}could not write {run.path}: {write_failure_cause(host, directory)}; "
            "nothing was changed, the PBX serves as before. Make room there (or make it writable), and run again."
        )
    if run.previous:
        logger.warning(
            f"{host.print_prefix}the previous run ({run.previous}) did not finish: it was interrupted "
            "(Ctrl-C), a step failed, or the connection dropped. This run "
            "finishes what it left: every step changes only what still differs."
        )
    return status


@operation(is_idempotent=False)
def run_marked(run: Run):
    """
    Mark the run as changing the PBX, when a later step is going to change something; say if
    the previous run left its mark.

    + run: this run (what, marker path, the marker as the snapshot read it)
    """
    yield FunctionCommand(_start, (run,), {})


def _finish(state, host, run: Run) -> bool:
    if not run.marked:
        return True
    status, _ = host.run_shell_command(StringCommand("rm", "-f", shlex.quote(run.path)), print_output=False)
    if not status:
        directory = run.path.rsplit("/", 1)[0]
        logger.error(
            f"{host.print_prefix}could not remove {run.path}: {write_failure_cause(host, directory)}; every "
            "change of this run is in place and the PBX serves with it, but the next run will say this one "
            "did not finish. Make it writable there, and run again."
        )
    return status


@operation(is_idempotent=False)
def run_unmarked(run: Run):
    """
    The run got to its last step: remove the marker (if it wrote one).

    + run: this run
    """
    yield FunctionCommand(_finish, (run,), {})


INTERRUPTED = 130  # a shell's exit status for a command interrupted by SIGINT (128 + 2)


ROLES = str(Path(__file__).resolve().parents[1]) + "/"  # televoc's own steps live below here
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class _Closing:
    """What the last lines of a failed run say: televoc's own error lines per host, kept as
    the steps log them, printed again after pyinfra's last lines ("Error: executed 0
    commands", "No hosts remaining!"), which otherwise read as if nothing ran."""

    what: str = ""
    said: dict[str, list[str]] = field(default_factory=dict)
    interrupted: bool = False
    installed: bool = False


CLOSING = _Closing()
SHOWN_PER_HOST = 5  # headlines repeated per host; the rest stays above


class _Keeper(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        if not record.pathname.startswith(ROLES) or not ctx_host.isset():
            return
        name = ctx_host.get().name
        line = _ANSI.sub("", record.getMessage()).strip()
        if line.startswith(f"[{name}] "):  # a headline, not a continuation (a list of names)
            CLOSING.said.setdefault(name, []).append(line.removeprefix(f"[{name}] "))


def closing_lines(what: str, failed: list[str], hosts: int, said: dict[str, list[str]]) -> list[str]:
    """The block a failed run ends with: which hosts did not finish, what televoc said about
    each (its first SHOWN_PER_HOST error lines), and what pyinfra's own last lines mean."""
    lines = [f"--> televoc: {what} did not finish on {', '.join(failed)} ({len(failed)} of {hosts} hosts):"]
    for name in failed:
        told = said.get(name, [])
        if not told:
            lines.append(
                f"    [{name}] no televoc step reported a problem there: pyinfra's error above says "
                "why (the host could not be reached, or a command failed)"
            )
        for line in told[:SHOWN_PER_HOST]:
            lines.append(f"    [{name}] {line}")
        if len(told) > SHOWN_PER_HOST:
            lines.append(f"    [{name}] ... and {len(told) - SHOWN_PER_HOST} more lines above")
    lines.append(
        '    pyinfra\'s "Error: executed 0 commands" and "No hosts remaining!" above mean only that '
        "this step failed and the run stopped there: what the steps before it did is in place, "
        "and the PBX serves as said above. Run again after the fix: every step changes only what still differs."
    )
    return lines


def _closing() -> None:
    if CLOSING.interrupted or not ctx_state.isset():
        return
    state = ctx_state.get()
    failed = sorted(h.name for h in state.failed_hosts)
    if failed:
        hosts = len(list(state.inventory.iter_activated_hosts())) or len(failed)
        print("\n" + "\n".join(closing_lines(CLOSING.what, failed, hosts, CLOSING.said)), file=sys.stderr)


def _install_closing(what: str) -> None:
    CLOSING.what = what
    if not CLOSING.installed:
        CLOSING.installed = True
        logger.addHandler(_Keeper())
        atexit.register(_closing)


def _interrupted(signum, frame) -> None:
    """Ctrl-C. pyinfra's own handler exits 0 ("Exiting upon user request!"), which a wrapper
    reads as success; this one exits INTERRUPTED and says what holds.

    It ends the process at once (os._exit) rather than raising SystemExit: the signal lands
    in whichever greenlet of pyinfra's gevent hub runs, and unwinding from there has, on a
    loaded machine, hung past 3 minutes or ended in gevent's LoopExit at the interpreter's
    shutdown (exit 1, the Ctrl-C read as a failure). Nothing needs unwinding here: from the
    run's first step on, televoc keeps no client-side state that a finally would complete
    (what is on the PBX stays as the message says; the marker there tells the next run), and
    the closing block is not printed after an interruption anyway."""
    CLOSING.interrupted = True
    print(
        "\ntelevoc: interrupted (Ctrl-C): the run stopped. What it had done is in place on the PBX, what it "
        "had not reached was not done (a switch NixOS had begun finishes there by itself). The PBX keeps "
        "serving; the next run says this one did not finish and finishes what is left.",
        file=sys.stderr,
    )
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(INTERRUPTED)


@deploy("Run", data_defaults=defaults(SETTINGS))
def started(what: str, snapshot=None) -> Run:
    """First step of a deploy file; `snapshot` (the run's one read) gives the marker's text.
    From here on, Ctrl-C ends the run with exit status INTERRUPTED, never 0."""
    signal.signal(signal.SIGINT, _interrupted)
    _install_closing(what)
    connection.send_at_once(host)  # (adopt.py starts here; deploy.py and teardown.py set it before)
    path = read(SETTINGS).televoc_run_marker
    previous = None
    if snapshot is not None and path in snapshot.texts:
        lines = snapshot.texts[path]
        previous = " ".join(line.strip() for line in lines or [] if line.strip())
    run = Run(what=what, path=path, previous=previous, not_files=dict(snapshot.not_files) if snapshot else {})
    run_marked(name=MARKER_STEPS[0], run=run)
    return run


@deploy("Run", data_defaults=defaults(SETTINGS))
def finished(run: Run):
    """Last step of a deploy file."""
    run_unmarked(name=MARKER_STEPS[1], run=run)
