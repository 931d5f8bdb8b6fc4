"""Asterisk's CLI on the PBX, for every role that asks Asterisk something: the command
(a run setting), the fact that reads what Asterisk serves in one remote command, and a
bounded poll of it."""

from __future__ import annotations

import time
from collections.abc import Callable

from pyinfra import host
from pyinfra.api import FactBase
from pyinfra.api.exceptions import FactProcessError

from roles.shared import packed, pbxcli, pbxobjects
from roles.shared.settings import Setting, declare, text

SETTINGS = declare(
    Setting(
        "asterisk__cli",
        "asterisk -C /etc/asterisk/asterisk.conf",
        "The Asterisk CLI; -C keeps a NixOS build from looking for its control socket in the Nix store.",
        text,
    ),
)

# How often a waiting step reads Asterisk's state again (seconds).
POLL_SECONDS = 2.0


class AsteriskState(FactBase[pbxcli.PbxState | None]):
    """
    What Asterisk serves now: version, aors, contacts with status, RTT and full URI, dialplan
    globals, transports. One remote command, whatever the number of phones.

    + cli_command: the Asterisk CLI command (with -C)
    + aors: about how many aors it serves (the event's phones); None: not known

    .. code:: python

        state = host.get_fact(AsteriskState, cli_command="asterisk -C /etc/asterisk/asterisk.conf")
        state.running, state.generation, state.contacts_of("saal1")
    """

    @staticmethod
    def default():
        return None

    def command(self, cli_command: str, aors: int | None = None) -> str:
        # Each answer is preceded by a marker line; stderr too ("Unable to connect ..."). One
        # line back (roles/packed.py): printable ASCII only, compressed. `aors`: about how many
        # aors Asterisk serves (how they are listed: pbxcli.aor_listings).
        return packed.command(pbxcli.state_script(cli_command, aors))

    def process(self, output):
        try:
            return pbxcli.parse_state(packed.lines(output))
        except ValueError as e:
            raise FactProcessError(f"unexpected Asterisk CLI output: {e}") from e


class AsteriskObjects(FactBase[pbxobjects.PbxObjects | None]):
    """
    Every object Asterisk serves (endpoints, auths, aors, identifies, outbound registrations,
    contacts, stored contacts, dialplan contexts and globals): what a teardown must leave none
    of. One remote command, whatever the number of phones; None when Asterisk is not running.

    + cli_command: the Asterisk CLI command (with -C)

    .. code:: python

        objects = host.get_fact(AsteriskObjects, cli_command="asterisk -C /etc/asterisk/asterisk.conf")
        objects.names("endpoint"), objects.empty
    """

    @staticmethod
    def default():
        return None

    def command(self, cli_command: str) -> str:
        return packed.command(pbxobjects.objects_script(cli_command))

    def process(self, output):
        try:
            return pbxobjects.parse_objects(packed.lines(output))
        except ValueError as e:
            raise FactProcessError(f"unexpected Asterisk CLI output: {e}") from e


class OutboundRegistrations(FactBase[tuple[pbxobjects.Outbound, ...] | None]):
    """
    Asterisk's outbound registrations (the trunk) with their status: a small answer, for a
    step that waits on the upstream. None when Asterisk is not running.

    + cli_command: the Asterisk CLI command (with -C)
    """

    @staticmethod
    def default():
        return None

    def command(self, cli_command: str) -> str:
        return f"{cli_command} -rx 'pjsip list registrations' 2>&1"

    def process(self, output):
        lines = list(output)
        if pbxcli.is_not_running(lines):
            return None
        try:
            return pbxobjects.parse_outbound(lines)
        except ValueError as e:
            raise FactProcessError(f"unexpected Asterisk CLI output: {e}") from e


def poll(
    cli_command: str,
    wait: float,
    done: Callable[[pbxcli.PbxState], bool],
    progress: Callable[[pbxcli.PbxState, float], None] | None = None,
    first: pbxcli.PbxState | None = None,
    aors: int | None = None,
) -> pbxcli.PbxState | None:
    """Read AsteriskState until done(state) or `wait` seconds passed (bounded in count and in
    time); return the last state read (None if the fact gave nothing). `progress(state,
    seconds left)` is called after each read that is not done; `first`: a state already read
    (saves a remote command when it is done already); `aors`: AsteriskState's."""
    deadline = time.monotonic() + wait
    state = first
    for attempt in range(int(wait / POLL_SECONDS) + 2):
        if state is None or attempt > 0:
            state = host.get_fact(AsteriskState, cli_command=cli_command, aors=aors)
        if (state is not None and done(state)) or time.monotonic() >= deadline:
            break
        if progress is not None and state is not None:
            progress(state, deadline - time.monotonic())
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    return state
