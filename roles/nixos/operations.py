"""pyinfra operations for NixOS: check the import, switch only when the live config differs."""

from __future__ import annotations

import posixpath
import time

from paramiko import SSHException
from pyinfra import host, logger
from pyinfra import state as pyinfra_state
from pyinfra.api import FunctionCommand, OperationError, QuoteString, StringCommand, operation
from pyinfra.facts.files import FindInFile

from roles.shared.files import UNREAD, FileDigests, sha256
from roles.shared.ops import probing

from . import firewall, refusal
from . import host as nixos_host
from .facts import FirewallState


@operation()
def module_imported(configuration: str, module_path: str, import_line: str, lines=UNREAD):
    """
    Stop the run, naming the line to add, when `configuration` does not import `module_path`.
    televoc never rewrites configuration.nix.

    + configuration: the NixOS configuration file
    + module_path: televoc's module, e.g. /etc/nixos/televoc/asterisk.nix
    + import_line: the line to tell the user
    + lines: the lines of `configuration` that name the module, as the run's snapshot read
      them (None: no such file); without it, the operation reads them
    """
    relative = module_path.replace("/etc/nixos/", "./", 1)
    if lines is UNREAD:
        lines = host.get_fact(FindInFile, path=configuration, pattern=relative.lstrip("./"))
    if lines is None:
        raise OperationError(f"{configuration} does not exist: is this host running NixOS?")
    if not [line for line in lines if not line.lstrip().startswith("#")]:
        raise OperationError(
            f"{configuration} does not import televoc's module {module_path}. Add this line "
            f"to it (inside the top-level braces), then run again:\n    {import_line}\n"
            "(If the module is imported from another file, set --data nixos__check_import=false.)"
        )
    host.noop(f"{configuration} imports {relative}")
    yield from ()  # an operation is a generator, even one that only checks


@operation()
def flake_ready(
    flake: str, module_path: str, output: str, locked: bool, import_lines: tuple, check_import: bool = True
):
    """
    Stop the run, before anything changes, unless the host's flake can take televoc's module:
    the module lies inside the flake's directory, the flake has its flake.lock (televoc never
    writes or changes it), and a file of the flake imports the module.

    + flake: the flake's directory
    + module_path: televoc's module
    + output: the configuration switched to (nixosConfigurations.<output>)
    + locked: flake.lock exists
    + import_lines: the flake's lines that name the module
    + check_import: false when the import is checked elsewhere (nixos__check_import=false)
    """
    relative = "./" + posixpath.relpath(module_path, flake)
    if not nixos_host.inside(module_path, flake):
        raise OperationError(
            f"this host is configured by the flake in {flake}, and televoc's module {module_path} lies "
            f"outside it, where the flake cannot import it: give --data "
            f"nixos__module_path={posixpath.join(flake, 'televoc/asterisk.nix')} (in inventory.py's host data)"
        )
    if not locked:
        raise OperationError(
            f"the flake in {flake} has no flake.lock, and televoc never writes or changes it (it would "
            f"pin your inputs behind your back): run `nix flake lock` in {flake}, commit it, then run again"
        )
    if check_import and not nixos_host.imported(import_lines):
        raise OperationError(
            f"the flake in {flake} does not import televoc's module {module_path}. Add it to the modules "
            f"of nixosConfigurations.{output} in {flake}/flake.nix:\n    modules = [ ./configuration.nix "
            f"{relative} ];\nor import it from configuration.nix:\n    imports = [ {relative} ];\nthen run "
            "again. (If another file imports it, set --data nixos__check_import=false.)"
        )
    host.noop(f"the flake in {flake} imports {relative} and has its flake.lock")
    yield from ()


@operation()
def visible_to_flake(flake: str, paths: tuple, indexed: frozenset = frozenset()):
    """
    televoc's files in the flake's git repository are in git's index, so that the flake sees
    them (a flake in git sees only what git knows): `git add --intent-to-add` for each one git
    does not know yet. Nothing is committed; `git status` shows them as new files.

    + flake: the flake's directory (a git repository)
    + paths: televoc's files in it
    + indexed: those git knows already, as the run's snapshot read it
    """
    unknown = [p for p in paths if p not in indexed]
    if not unknown:
        host.noop(f"git in {flake} knows televoc's files")
        return
    yield StringCommand(
        "git",
        "-c",
        "safe.directory=*",
        "-C",
        QuoteString(flake),
        "add",
        "--intent-to-add",
        "--",
        *[QuoteString(p) for p in unknown],
    )


def _live_mismatches(expected: dict, marker: str | None = None, marker_text: str = "", live=None) -> list[str]:
    """Files NixOS serves that differ from `expected` (path -> sha256, or None: absent), and
    the marker when it does not hold `marker_text` (the module last switched to).
    `live`: path -> FileDigest as already read (the run's snapshot); None: read them now."""
    wanted = {path: expected[path] for path in sorted(expected)}
    if marker is not None:
        wanted[marker] = sha256(marker_text)
    if live is None:
        live = host.get_fact(FileDigests, paths=tuple(wanted))
    mismatches = []
    for path, sha in wanted.items():
        have = live.get(path)
        if sha is None:
            if have is not None:
                mismatches.append(path)
        elif have is None or have.sha256 != sha:
            mismatches.append(path)
    return mismatches


def _connection_lost(host) -> bool:
    """True when the SSH connection is gone (a failed command then says nothing of the host)."""
    client = getattr(host.connector, "client", None)
    transport = client.get_transport() if client is not None else None
    return transport is not None and not transport.is_active()


_EXIT = "@@televoc-exit "


def _rebuild(
    state, host, rebuild: str, expected: dict[str, str | None], marker: str, marker_text: str, module: tuple[str, str]
) -> bool:
    # The exit status travels in the output: NixOS's "switched, but units failed" (4) is not
    # its "refused, nothing changed" (1).
    command = f"{{ {rebuild} ; }} 2>&1; echo {_EXIT}$?"
    try:
        _, output = host.run_shell_command(StringCommand("sh", "-c", QuoteString(command)), print_output=False)
    except (OSError, EOFError, SSHException, TimeoutError):
        output = None
    lines = [] if output is None else output.output_lines
    codes = [line[len(_EXIT) :].strip() for line in lines if line.startswith(_EXIT)]
    if output is None or _connection_lost(host) or not codes:
        logger.error(
            f"{host.print_prefix}lost the connection during `{rebuild}`: the switch may or may "
            "not have happened, but Asterisk was not reloaded, so it keeps serving the previous "
            "config and the phones stay registered. Run again to finish."
        )
        return False
    said = [line for line in lines if not line.startswith(_EXIT)]
    for line in said:
        logger.info(f"{host.print_prefix}{line}")
    code = int(codes[-1]) if codes[-1].isdigit() else 1
    if code == refusal.UNITS_FAILED:
        units = refusal.failed_units(said)
        logger.error(
            f"{host.print_prefix}NixOS switched to the new generation, but units failed to start: "
            f"{', '.join(units) or 'see above'} (journalctl -u <unit>). Asterisk was not reloaded: it keeps "
            "serving its current config. Fix the unit and run again."
        )
        return False
    if code != 0:
        text, path = module
        pointed = refusal.pointed_lines(said, text, path)
        if pointed:
            logger.error(f"{host.print_prefix}NixOS's message points at televoc's module ({path}):")
            for number, line in pointed:
                logger.error(f"    {number:>4}  {line}")
        logger.error(
            f"{host.print_prefix}`{rebuild}` failed: the system was not switched, the previous "
            "generation keeps serving, Asterisk was neither reloaded nor restarted and the phones "
            "stay registered. Fix the error above and run again."
        )
        return False
    stale = _live_mismatches(expected)
    if not stale:  # this module is what the system runs now: the next run need not switch
        host.run_shell_command(
            StringCommand(
                "mkdir",
                "-p",
                QuoteString(posixpath.dirname(marker)),
                "&&",
                "printf",
                "%s",
                QuoteString(marker_text),
                ">",
                QuoteString(marker),
            ),
            print_output=False,
        )
    if stale:
        logger.error(
            f"{host.print_prefix}`{rebuild}` succeeded but {', '.join(stale)} is not televoc's "
            "config: is televoc's module imported by the NixOS configuration? Asterisk was not "
            "reloaded; the previous config keeps serving."
        )
        return False
    return True


@operation(is_idempotent=False)
def switched(
    rebuild: str,
    expected: dict[str, str | None],
    marker: str,
    marker_text: str,
    live=None,
    module: tuple[str, str] = ("", ""),
):
    """
    Run `rebuild` (nixos-rebuild switch) when /etc does not hold the expected files or the
    module changed since the last successful switch (the marker), then check that /etc holds
    them. On failure the previous generation keeps serving.

    + rebuild: the switch command
    + expected: path in /etc -> sha256 of its wanted content (None: must be absent)
    + marker: a file that holds `marker_text` once a switch to this module succeeded
    + marker_text: names the module (and what it runs): sha256 of their texts
    + live: path -> FileDigest of those files as the run's snapshot read them (None: read now)
    + module: (its text, its path): when NixOS refuses, the lines of it NixOS points at are shown
    """
    differ = _live_mismatches(expected, marker, marker_text, live)
    if not differ:
        host.noop("NixOS already serves this Asterisk config")
        return
    if not pyinfra_state.is_executing and not probing():  # change detection (--dry, --diff, the prompt)
        logger.info(f"{host.print_prefix}will switch NixOS ({', '.join(differ)} differ)")
    yield FunctionCommand(_rebuild, (rebuild, expected, marker, marker_text, module), {})


def _firewall_checked(state, host, openings: tuple, jails: tuple, wait: float) -> bool:
    """Read the live firewall (fail2ban may take a moment to list its jails after a switch):
    up to `wait` seconds, and up to 4 x `wait` while fail2ban's unit runs but its server does
    not answer yet (it is still reading its jails; a failed unit is named at once)."""
    start = time.monotonic()
    for _ in range(int(4 * wait / 0.5) + 2):  # bounded in count and in time
        live = host.get_fact(FirewallState)
        found = firewall.problems(live, openings, jails)
        if not found or time.monotonic() - start >= (4 * wait if live.fail2ban_starting() else wait):
            break
        time.sleep(0.5)
    for problem in found:
        logger.error(f"{host.print_prefix}{problem}")
    if found:
        logger.error(
            f"{host.print_prefix}the PBX's firewall is not as televoc's module opens it (see above); "
            "Asterisk and the phones were left as they are."
        )
        return False
    logger.info(f"{host.print_prefix}{_opened(openings)}")
    return True


def _opened(openings: tuple) -> str:
    return (
        "the firewall opens "
        + "; ".join(f"{o.port_text} ({o.what}) to {', '.join(o.sources)}" for o in openings)
        + " only"
    )


# fail2ban (Python) reads its config and starts each jail after the switch started it: a few
# seconds on an idle box, over 30 s seen on the 2-core lab machine under heavy load.
@operation(is_idempotent=False)
def firewall_as_opened(openings: tuple, jails: tuple, live=UNREAD, wait: float = 30):
    """
    Check that the PBX's live firewall opens each port of `openings` to its sources, to no
    other source, and that fail2ban runs `jails`; fail naming each difference.

    + openings: the module's Openings
    + jails: the module's fail2ban jails
    + live: the firewall as the run's snapshot read it (LiveFirewall), when no switch came
      after it; without it, the operation reads it (and waits up to `wait` seconds for
      fail2ban's jails, which start with the switch)
    """
    if not openings and not jails:
        host.noop("televoc's module opens no port")
        return
    if live is not UNREAD:
        found = firewall.problems(live, tuple(openings), tuple(jails))
        if not found:
            host.noop(_opened(tuple(openings)))
            return
    yield FunctionCommand(_firewall_checked, (tuple(openings), tuple(jails), float(wait)), {})
