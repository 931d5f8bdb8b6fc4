"""pyinfra operations for Asterisk: keep it running, make the new config live, verify phones."""

from __future__ import annotations

import shlex
import time

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, StringCommand, operation

from .cli import PbxState
from .facts import AsteriskState
from .report import registration_problems, registration_table

POLL_SECONDS = 2.0


def _poll(cli: str, wait: float, done) -> PbxState | None:
    """Read AsteriskState until done(state) or `wait` seconds passed; the last state read."""
    deadline = time.monotonic() + wait
    state = None
    for _ in range(int(wait / POLL_SECONDS) + 2):  # bounded in count and in time
        state = host.get_fact(AsteriskState, cli_command=cli)
        if state is not None and done(state) or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    return state


def _wait_running(state, host, cli: str, wait: float) -> bool:
    current = _poll(cli, wait, lambda s: s.running)
    if current is None or not current.running:
        logger.error(f"{host.print_prefix}Asterisk did not start within {wait:.0f} s")
        return False
    return True


@operation(is_idempotent=False)
def running(cli: str, start: str, wait: float = 15):
    """
    Start Asterisk when its CLI cannot connect; wait until it answers.

    + cli: the Asterisk CLI command (with -C)
    + start: the command that starts it (systemctl start asterisk)
    + wait: seconds to wait for it to answer
    """
    state = host.get_fact(AsteriskState, cli_command=cli)
    if state is not None and state.running:
        host.noop(f"Asterisk {state.version} is running")
        return
    yield StringCommand(start)
    yield FunctionCommand(_wait_running, (cli, wait), {})


TRANSPORT = "transport-udp"


def _live(state: PbxState, generation: str, dialplan: str, phones: frozenset, bind: str) -> bool:
    return (
        state.running
        and state.generation == generation
        and state.dialplan_generation == dialplan
        and state.phone_aors() == phones
        and state.transports.get(TRANSPORT) == bind
    )


def _confirm(state, host, cli, generation, dialplan, phones, bind, wait) -> bool:
    current = _poll(cli, wait, lambda s: _live(s, generation, dialplan, phones, bind))
    if current is not None and _live(current, generation, dialplan, phones, bind):
        return True
    if current is None or not current.running:
        reason = "Asterisk stopped answering after the reload"
    else:
        reasons = []
        if current.generation != generation:
            reasons.append(
                f"pjsip config: Asterisk serves generation {current.generation or 'none'}, "
                f"not {generation}"
            )
        if current.dialplan_generation != dialplan:
            reasons.append(
                f"dialplan: Asterisk serves {current.dialplan_generation or 'none'}, not {dialplan}"
            )
        extra = sorted(current.phone_aors() - phones)
        lacking = sorted(phones - current.phone_aors())
        if lacking:
            reasons.append(f"aors missing in Asterisk: {', '.join(lacking)}")
        if extra:
            reasons.append(f"aors Asterisk has that the directory does not: {', '.join(extra)}")
        if current.transports.get(TRANSPORT) != bind:
            reasons.append(f"SIP transport bound to {current.transports.get(TRANSPORT)}, not {bind}")
        reason = "; ".join(reasons)
    logger.error(
        f"{host.print_prefix}Asterisk rejected the new config ({reason}). Asterisk keeps serving "
        "what it had (phones stay registered); look at its log (journalctl -u asterisk) for the "
        "line it refused, fix it and run again."
    )
    return False


@operation(is_idempotent=False)
def config_live(
    cli: str, generation: str, dialplan_generation: str, phones, bind: str, wait: float = 15
):
    """
    Reload Asterisk unless it already serves this config, then prove it took the new one:
    the reload commands print success even for a rejected config, so televoc reads the
    generation markers and the aors Asterisk reports.

    + cli: the Asterisk CLI command (with -C)
    + generation: expected pjsip generation (aor televoc-generation-<gen>)
    + dialplan_generation: expected dialplan generation (global TELEVOC_DIALPLAN)
    + phones: the phone names whose aors must exist
    + bind: the SIP transport's expected bind address (ip:port)
    """
    phones = frozenset(phones)
    state = host.get_fact(AsteriskState, cli_command=cli)
    if state is not None and _live(state, generation, dialplan_generation, phones, bind):
        host.noop(f"Asterisk already serves config generation {generation}")
        return
    yield StringCommand(cli, "-rx", "'core reload'")
    yield FunctionCommand(_confirm, (cli, generation, dialplan_generation, phones, bind, wait), {})


def _verify(state, host, cli, phones, wait, mode) -> bool:
    names = {name for name, _ in phones}
    current = _poll(cli, wait, lambda s: not registration_problems(s, phones))
    if current is None or not current.running:
        logger.error(f"{host.print_prefix}Asterisk is not running: no phone can register")
        return False
    for line in registration_table(current, phones).splitlines():
        logger.info(line)
    problems = registration_problems(current, phones)
    if not problems:
        logger.info(f"{host.print_prefix}all {len(names)} phones are registered")
        return True
    summary = "; ".join(f"{name} ({why})" for name, why in problems)
    if mode == "report":
        logger.warning(
            f"{host.print_prefix}{len(problems)} of {len(names)} phones not ready: {summary} "
            "(televoc_verify=report: not failing)"
        )
        return True
    logger.error(
        f"{host.print_prefix}{len(problems)} of {len(names)} phones not ready after {wait:.0f} s: "
        f"{summary}. Plug them in / check their settings and run again, or pass "
        "--data televoc_verify=report during buildup."
    )
    return False


@operation(is_idempotent=False)
def phones_registered(cli: str, phones, wait: float = 30, mode: str = "strict"):
    """
    Wait up to `wait` seconds until every phone's aor has a reachable contact, print a table
    (phone, extension, contact, status, RTT), and fail naming every phone that is not ready
    (unless mode is "report"). One remote command per poll, whatever the number of phones.

    + cli: the Asterisk CLI command (with -C)
    + phones: (name, extension) pairs
    + wait: seconds to wait for registrations
    + mode: "strict" or "report"
    """
    if mode not in ("strict", "report"):
        raise ValueError(f"televoc_verify must be 'strict' or 'report', not {mode!r}")
    yield FunctionCommand(_verify, (cli, tuple(phones), float(wait), mode), {})


def _none_registered(state, host, cli, phones, provisioned) -> bool:
    current = host.get_fact(AsteriskState, cli_command=cli)
    if current is None or not current.running:
        logger.error(f"{host.print_prefix}Asterisk is not running: cannot check")
        return False
    left_aors = sorted(set(phones) & current.phone_aors())
    registered = sorted({c.aor for c in current.contacts} & set(phones))
    for name in phones:
        how = "wiped by provisioning" if name in provisioned else "not provisioned by televoc: reset it by hand"
        logger.info(f"    {name:<20} {'REGISTERED' if name in registered else 'unregistered':<13} {how}")
    if left_aors or registered:
        logger.error(
            f"{host.print_prefix}the event is still on the PBX: aors {', '.join(left_aors) or '-'}, "
            f"contacts {', '.join(registered) or '-'}"
        )
        return False
    logger.info(f"{host.print_prefix}no account and no contact of the event is left on the PBX")
    return True


@operation(is_idempotent=False)
def no_phone_registered(cli: str, phones, provisioned=()):
    """
    Check that Asterisk has no aor and no contact of the event's phones; print each phone.

    + cli: the Asterisk CLI command (with -C)
    + phones: the event's phone names
    + provisioned: those televoc provisioned (and so wiped)
    """
    yield FunctionCommand(_none_registered, (cli, tuple(phones), tuple(provisioned)), {})


def _remove_contacts(state, host, cli: str, keys: tuple) -> bool:
    # The CLI takes double quotes around an argument; keys hold only [A-Za-z0-9_.-;@/].
    deletes = [shlex.quote('database del registrar "' + key + '"') for key in keys]
    command = "; ".join(f"{cli} -rx {delete}" for delete in deletes)
    _, output = host.run_shell_command(StringCommand("sh", "-c", shlex.quote(command)), print_output=False)
    removed = sum("Database entry removed" in line for line in output.output_lines)
    if removed != len(keys):
        logger.error(
            f"{host.print_prefix}removed {removed} of {len(keys)} contacts: "
            + " ".join(output.output_lines)[:300]
        )
        return False
    logger.info(f"{host.print_prefix}removed {removed} contacts of the event")
    return True


@operation(is_idempotent=False)
def contacts_removed(cli: str, aors):
    """
    Remove the contacts the event's aors left behind in Asterisk's registrar (an aor removed
    from the config keeps its contact). One remote command for all of them; each removal is
    confirmed from what the CLI prints.

    + cli: the Asterisk CLI command (with -C)
    + aors: the event's aor names
    """
    state = host.get_fact(AsteriskState, cli_command=cli)
    if state is None or not state.running:
        host.noop("Asterisk is not running: no contacts to remove")
        return
    keys = tuple(f"contact/{r.aor};@{r.hash}" for r in state.registrations if r.aor in set(aors))
    if not keys:
        host.noop("no contact of the event is left")
        return
    yield FunctionCommand(_remove_contacts, (cli, keys), {})
