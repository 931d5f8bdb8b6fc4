"""pyinfra operations of a teardown: the trunk withdrawn from the upstream, Asterisk emptied
of the event, the event's files removed, and what is left judged from what Asterisk lists.
Each writes what it removed, or could not, into the run's Leftovers (roles/shared/leftovers.py).
"""

from __future__ import annotations

import shlex
import time

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, OperationError, QuoteString, StringCommand, operation

from roles.shared.files import UNREAD, TextFile, put_file_atomically
from roles.shared.leftovers import Leftovers
from roles.shared.pbxfacts import POLL_SECONDS, AsteriskObjects, OutboundRegistrations
from roles.shared.pbxobjects import PbxObjects

from .operations import remove_stored_contacts
from .report import RunChanges
from .teardown import WITHDRAWN, Removal, Unconfirmed, left, removed, withdrawal

# What a reload leaves behind on its own: the contacts the phones registered, in Asterisk's
# database (an aor removed from the config keeps them).
KEPT = ("contact", "stored contact")
# What `pjsip send unregister` prints for a registration Asterisk does not have (it prints
# nothing when it takes the command).
NO_REGISTRATION = "Unable to retrieve registration"


def _bounded(read, done, wait: float):
    """read() until done(result) or `wait` seconds passed (bounded in count and time)."""
    deadline = time.monotonic() + wait
    current = read()
    for _ in range(int(wait / POLL_SECONDS) + 1):
        if done(current) or time.monotonic() >= deadline:
            break
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        current = read()
    return current


def _withdraw(
    state, host, cli: str, outbound: tuple, removal: Removal, wait: float, leftovers: Leftovers, note: str
) -> bool:
    q = shlex.quote
    script = "; ".join(f"{cli} -rx {q('pjsip send unregister ' + o.name)} 2>&1" for o in outbound)
    ok, output = host.run_shell_command(StringCommand("sh", "-c", q(script)), print_output=False)
    said = [line for line in output.output_lines if line.strip()]
    gone = {o.name for o in outbound if any(f"{NO_REGISTRATION} {o.name}" in line for line in said)}
    if not ok or [line for line in said if NO_REGISTRATION not in line and "failed." not in line]:
        leftovers.left.append(f"the trunk: Asterisk did not take the un-REGISTER: {' '.join(said)[:200]}")
        return True
    waiting = [o for o in outbound if o.name not in gone]

    def read():
        return host.get_fact(OutboundRegistrations, cli_command=cli)

    def done(current) -> bool:
        now = {o.name: o.status for o in current or ()}
        return current is None or all(now.get(o.name, WITHDRAWN) == WITHDRAWN for o in waiting)

    current = _bounded(read, done, wait) if waiting else ()
    now = {o.name: o for o in current or ()}
    unconfirmed = []
    for before in waiting:
        withdrawn, text = withdrawal(before, now.get(before.name), removal.label(before), wait)
        (leftovers.removed if withdrawn else leftovers.left).append(text)
        (logger.info if withdrawn else logger.warning)(f"{host.print_prefix}{text}")
        if not withdrawn:
            unconfirmed.append(Unconfirmed.of(before, removal.label(before), time.time()))
    if unconfirmed:  # kept for later teardowns: they cannot send another un-REGISTER
        # (televoc's config has one registration, the trunk: the note holds one)
        return put_file_atomically(host, unconfirmed[0].to_json().encode(), note, "600")
    status, _ = host.run_shell_command(StringCommand("rm", "-f", QuoteString(note)), print_output=False)
    return status


def _awaited(state, host, note: Unconfirmed, path: str, leftovers: Leftovers) -> bool:
    expired, text = note.judged(time.time())
    if not expired:
        leftovers.left.append(text)
        return True
    leftovers.removed.append(text)
    status, _ = host.run_shell_command(StringCommand("rm", "-f", QuoteString(path)), print_output=False)
    return status


@operation(is_idempotent=False)
def trunk_withdrawn(
    cli: str, removal: Removal, leftovers: Leftovers, note: str, wait: float = 10, outbound=UNREAD, noted=UNREAD
):
    """
    Withdraw every outbound registration (the trunk) from its upstream: `pjsip send
    unregister` (a REGISTER with Expires: 0, answered with the trunk's credentials when the
    upstream challenges it), then wait up to `wait` seconds for Asterisk to say
    Unregistered (the upstream's 2xx). The registration object itself goes later, with the
    rest of the config: removed first, the un-REGISTER Asterisk sends on its own meets the
    upstream's challenge with no one left to answer it, and the upstream keeps the contact.
    An un-REGISTER the upstream did not confirm is noted on the PBX (`note`) and named by
    every later teardown until the registration has expired there.

    + cli: the Asterisk CLI command (with -C)
    + removal: names the trunk for the crew
    + leftovers: gets the withdrawn trunk, or the one the upstream did not confirm
    + note: where the PBX keeps an unconfirmed un-REGISTER (root 0600)
    + wait: seconds to wait for the upstream's answer
    + outbound: the registrations as the run's snapshot listed them (None: Asterisk not running)
    + noted: the note's lines as the run's snapshot read them (None: no note)
    """
    if outbound is UNREAD:
        outbound = host.get_fact(OutboundRegistrations, cli_command=cli)
    if noted is UNREAD:
        noted = host.get_fact(TextFile, path=note)
    if outbound:
        yield FunctionCommand(_withdraw, (cli, tuple(outbound), removal, float(wait), leftovers, note), {})
        return
    if noted is not None:
        try:
            unconfirmed = Unconfirmed.from_json("\n".join(noted))
        except ValueError as e:
            raise OperationError(f"{note}: {e}; move it away to start over") from None
        yield FunctionCommand(_awaited, (unconfirmed, note, leftovers), {})
        return
    if outbound is None:
        host.noop("Asterisk is not running: it holds no registration with an upstream")
    else:
        host.noop("Asterisk has no outbound registration: nothing to withdraw from an upstream")


def _emptied(state, host, cli: str, wait: float, start: str, changes: RunChanges) -> bool:
    changes.asterisk = True

    def read():
        return host.get_fact(AsteriskObjects, cli_command=cli)

    def served(objects: PbxObjects | None) -> bool:
        # The config's objects are gone; the phones' contacts stay (their aors gone, they are
        # listed until their rows in Asterisk's database are deleted, below).
        return objects is None or all(not names for kind, names in objects.listed.items() if kind not in KEPT)

    current = _bounded(read, served, wait)
    if current is None:  # killed or crashed after the reload: start it again at once
        logger.warning(f"{host.print_prefix}Asterisk stopped right after the reload; starting it again")
        host.run_shell_command(StringCommand(start), print_output=False)
        current = _bounded(read, lambda o: o is not None and served(o), wait)
    if current is not None and current.names("stored contact"):
        # An aor removed from the config leaves its contacts in Asterisk's database.
        keys = tuple(f"contact/{key}" for key in current.names("stored contact"))
        return remove_stored_contacts(host, cli, keys)
    return True


@operation(is_idempotent=False)
def asterisk_emptied(
    cli: str, wait: float = 15, start: str = "systemctl start asterisk.service", changes=None, before=UNREAD
):
    """
    Make Asterisk serve the teardown's config (NixOS serves it already): reload (and reload
    the dialplan again, which drops its globals), wait until it lists none of the config's
    objects, then remove the contacts the removed aors left in its database. Judged by
    nothing_left.

    + cli: the Asterisk CLI command (with -C)
    + wait: seconds to wait for Asterisk to take the config
    + start: the command that starts Asterisk again if it stops after the reload
    + changes: gets `asterisk = True` when it reloaded
    + before: Asterisk's objects as the run's snapshot listed them (None: not running)
    """
    if before is UNREAD:
        before = host.get_fact(AsteriskObjects, cli_command=cli)
    if before is not None and before.empty:
        host.noop("Asterisk serves nothing of the event")
        return
    yield StringCommand(cli, "-rx", "'core reload'")
    # The dialplan's globals survive a reload unless the config loaded *before* it said
    # clearglobalvars=yes (pbx_config reads it at load, uses it at the next reload): the
    # teardown's extensions.conf says so, and a second dialplan reload clears them.
    yield StringCommand(cli, "-rx", "'dialplan reload'")
    yield FunctionCommand(_emptied, (cli, float(wait), start, changes if changes is not None else RunChanges()), {})


def _contacts_removed(state, host, cli: str) -> bool:
    current = host.get_fact(AsteriskObjects, cli_command=cli)  # as they are now, not at the snapshot
    keys = tuple(f"contact/{key}" for key in current.names("stored contact")) if current is not None else ()
    return remove_stored_contacts(host, cli, keys) if keys else True


@operation(is_idempotent=False)
def stored_contacts_removed(cli: str, stored=UNREAD):
    """
    Remove every contact Asterisk keeps in its registrar database (the event's phones'; an
    aor removed from the config keeps them), while Asterisk still answers: before a teardown
    stops it. One remote command for all of them, each removal confirmed from what the CLI
    prints.

    + cli: the Asterisk CLI command (with -C)
    + stored: Asterisk's objects as the run's snapshot listed them (None: not running)
    """
    if stored is UNREAD:
        stored = host.get_fact(AsteriskObjects, cli_command=cli)
    if stored is None:
        host.noop("Asterisk is not running: no contact to remove")
        return
    if not stored.names("stored contact"):
        host.noop("Asterisk keeps no contact")
        return
    yield FunctionCommand(_contacts_removed, (cli,), {})


def _judged(state, host, cli: str, stopped: bool, before, current, changes: RunChanges, leftovers: Leftovers) -> bool:
    before = None if before is UNREAD else before
    if stopped and before is None and current is not UNREAD:
        current = None  # not running when the run began, and nothing here starts it
    elif stopped or current is UNREAD or changes.asterisk:
        current = host.get_fact(AsteriskObjects, cli_command=cli)
    if stopped:
        if current is not None:
            leftovers.left.append("Asterisk still runs (televoc_teardown=stop): stop it (systemctl stop asterisk)")
        elif before is not None:
            gone = removed(before, None)
            leftovers.removed.append("Asterisk: stopped and disabled" + (f"; {gone}" if gone else ""))
        return True
    if current is None:
        leftovers.left.append(
            "Asterisk is not running, so what it still holds cannot be listed: start it (systemctl start "
            "asterisk) and run teardown again"
        )
        return True
    still = left(current)
    if still is not None:
        leftovers.left.append(
            f"{still}: Asterisk did not take the teardown's config; look at its log (journalctl -u asterisk)"
        )
    gone = removed(before, current)
    if gone is not None:
        leftovers.removed.append(gone)
    return True


@operation(is_idempotent=False)
def nothing_left(cli: str, leftovers: Leftovers, stopped: bool = False, changes=None, before=UNREAD, current=UNREAD):
    """
    List every object Asterisk serves and write into `leftovers` what went since the
    teardown began and what is still there (with Asterisk stopped: that it is).

    + cli: the Asterisk CLI command (with -C)
    + leftovers: gets what was removed and what is left
    + stopped: televoc_teardown=stop (Asterisk must not run)
    + changes: `asterisk` true when this run touched Asterisk (then it is listed again)
    + before: Asterisk's objects when the teardown began (the run's snapshot)
    + current: the same, for a run that touched nothing (UNREAD: list them now)
    """
    args = (cli, stopped, before, current, changes if changes is not None else RunChanges(), leftovers)
    yield FunctionCommand(_judged, args, {})
