"""pyinfra operations for NixOS: check the import, switch only when the live config differs."""

from __future__ import annotations

from paramiko import SSHException
from pyinfra import host, logger
from pyinfra import state as pyinfra_state
from pyinfra.api import FunctionCommand, OperationError, QuoteString, StringCommand, operation
from pyinfra.facts.files import FindInFile

from roles.shared.files import UNREAD, FileDigests, sha256
from roles.shared.ops import probing


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


def _rebuild(state, host, rebuild: str, expected: dict[str, str | None], marker: str, marker_text: str) -> bool:
    try:
        status, output = host.run_shell_command(StringCommand(rebuild), print_output=False)
    except (OSError, EOFError, SSHException, TimeoutError):
        status, output = False, None
    if not status and (output is None or _connection_lost(host)):
        logger.error(
            f"{host.print_prefix}lost the connection during `{rebuild}`: the switch may or may "
            "not have happened, but Asterisk was not reloaded, so it keeps serving the previous "
            "config and the phones stay registered. Run again to finish."
        )
        return False
    for line in output.output_lines:
        logger.info(f"{host.print_prefix}{line}")
    if not status:
        logger.error(
            f"{host.print_prefix}`{rebuild}` failed: the system was not switched, the previous "
            "generation keeps serving, Asterisk was neither reloaded nor restarted and the phones "
            "stay registered. Fix the error above and run again."
        )
        return False
    stale = _live_mismatches(expected)
    if not stale:  # this module is what the system runs now: the next run need not switch
        host.run_shell_command(
            StringCommand("printf", "%s", QuoteString(marker_text), ">", QuoteString(marker)), print_output=False
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
def switched(rebuild: str, expected: dict[str, str | None], marker: str, marker_text: str, live=None):
    """
    Run `rebuild` (nixos-rebuild switch) when /etc does not hold the expected files or the
    module changed since the last successful switch (the marker), then check that /etc holds
    them. On failure the previous generation keeps serving.

    + rebuild: the switch command
    + expected: path in /etc -> sha256 of its wanted content (None: must be absent)
    + marker: a file that holds `marker_text` once a switch to this module succeeded
    + marker_text: names the module (and what it runs): sha256 of their texts
    + live: path -> FileDigest of those files as the run's snapshot read them (None: read now)
    """
    differ = _live_mismatches(expected, marker, marker_text, live)
    if not differ:
        host.noop("NixOS already serves this Asterisk config")
        return
    if not pyinfra_state.is_executing and not probing():  # change detection (--dry, --diff, the prompt)
        logger.info(f"{host.print_prefix}will switch NixOS ({', '.join(differ)} differ)")
    yield FunctionCommand(_rebuild, (rebuild, expected, marker, marker_text), {})
