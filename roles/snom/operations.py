"""pyinfra operations for snom phones: publish provisioning files, tell phones to resync,
talk to phones' web interfaces. Remote commands do not grow with the number of phones."""

from __future__ import annotations

import io
import os
import re
import shlex
import tarfile
from dataclasses import dataclass, field

from pyinfra import host, logger
from pyinfra.api import (
    FileUploadCommand,
    FunctionCommand,
    HiddenValue,
    OperationError,
    StringCommand,
    operation,
)

from roles.asterisk.cli import NO_SUCH_COMMAND, NO_SUCH_ENDPOINT, NOT_RUNNING
from roles.asterisk.facts import AsteriskState, poll
from roles.event import Account
from roles.files import sha256
from roles.names import NOTIFY_CHECK_SYNC

from .facts import PendingNotifications, ProvisioningManifest
from .render import file_name
from .web import WebRequest, curl_config, parse_replies


def _tar(files: dict[str, str], manifest: str) -> bytes:
    """A deterministic tar of the files plus their manifest (same input, same bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, text in sorted({**files, ".manifest": manifest}.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o640, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class Holdouts:
    """Phones that still hold the event's credentials: found by wiped_phones_unregistered,
    judged by teardown_finished. Created in the deploy file and passed to both."""

    names: list[str] = field(default_factory=list)
    checked: bool = False


def _finished(state, host, holdouts: Holdouts) -> bool:
    if not holdouts.checked:
        logger.error(f"{host.print_prefix}teardown incomplete: the phones were never checked")
        return False
    if holdouts.names:
        logger.error(
            f"{host.print_prefix}teardown incomplete: still holding the event's credentials: "
            f"{', '.join(holdouts.names)}. Reset them by hand or with --data televoc_factory_reset=true, "
            "then run teardown again."
        )
        return False
    return True


@operation(is_idempotent=False)
def teardown_finished(holdouts: Holdouts):
    """
    Fail the run if a phone kept the event's credentials.

    + holdouts: what wiped_phones_unregistered found (same object)
    """
    yield FunctionCommand(_finished, (holdouts,), {})


@operation()
def provisioning_published(directory: str, files: HiddenValue, phones, pending_path: str):
    """
    Publish the provisioning files (they hold passwords: root:asterisk 0640, never printed)
    and record the phones whose file changed as pending a resync NOTIFY. One upload and one
    command for all phones; the directory is replaced as a whole.

    + directory: where Asterisk's HTTP server serves them from
    + files: HiddenValue of {file name: text}
    + phones: the accounts the files are for
    + pending_path: the file listing phones still to be told; the manifest of the published
      files sits beside it, outside what the HTTP server serves
    """
    wanted = {name: sha256(text) for name, text in files.unmask().items()}
    manifest_path = f"{os.path.dirname(pending_path)}/provisioning.manifest"
    live = host.get_fact(ProvisioningManifest, path=manifest_path)
    if live == wanted or (live is None and not wanted):
        host.noop(f"provisioning files of {len(wanted)} phones are already published")
        return
    by_file = {file_name(a): a.name for a in phones}
    changed = sorted(by_file[name] for name, sha in wanted.items() if (live or {}).get(name) != sha)
    manifest = "".join(f"{sha}  {name}\n" for name, sha in sorted(wanted.items()))
    parent = os.path.dirname(pending_path)
    upload = f"{parent}/.provisioning.tar"
    yield StringCommand("install", "-d", "-m", "750", "-o", "root", "-g", "asterisk", parent)
    yield FileUploadCommand(io.BytesIO(_tar(files.unmask(), manifest)), upload)
    new, old, q = f"{directory}.televoc-new", f"{directory}.televoc-old", shlex.quote
    script = [
        "set -e",
        f"rm -rf {q(new)} {q(old)}",
        f"mkdir -p {q(os.path.dirname(directory))}",
        f"install -d -m 750 -o root -g asterisk {q(new)}",
        f"tar -xf {q(upload)} -C {q(new)} --no-same-owner",
        f"chown -R root:asterisk {q(new)}",
        f"find {q(new)} -type f -exec chmod 640 {{}} +",
    ]
    if changed:  # before the swap: an interruption costs at most a needless NOTIFY
        script.append(f"printf '%s\\n' {' '.join(changed)} >> {q(pending_path)}")
    script += [
        f"mv {q(new + '/.manifest')} {q(manifest_path)}",
        f"if [ -e {q(directory)} ]; then mv {q(directory)} {q(old)}; fi",
        f"mv {q(new)} {q(directory)}",
        f"rm -rf {q(old)} {q(upload)}",
    ]
    yield StringCommand("sh", "-c", q("; ".join(script)))


def _notify(state, host, cli: str, notify: str, names: list[str], pending_path: str) -> bool:
    command = f"{cli} -rx {shlex.quote(f'pjsip send notify {notify} endpoint ' + ' '.join(names))}"
    status, output = host.run_shell_command(StringCommand(command), print_output=False)
    lines = output.output_lines
    if not status or any(NO_SUCH_COMMAND in line or NOT_RUNNING in line for line in lines):
        logger.error(f"{host.print_prefix}could not send NOTIFY {notify}: {' '.join(lines)[:300]}")
        return False
    # Asterisk prints "Sending NOTIFY ..." even for an endpoint without a contact (and then
    # sends nothing): a phone counts as told only if it is registered.
    unknown = {m[1] for m in (re.match(rf"^{NO_SUCH_ENDPOINT} (\S+)", l) for l in lines) if m}
    current = host.get_fact(AsteriskState, cli_command=cli)
    registered = current.registered if current and current.running else frozenset()
    told = [n for n in names if n in registered and n not in unknown]
    missed = [n for n in names if n not in told]
    if told:
        logger.info(f"{host.print_prefix}told to fetch their settings ({notify}): {', '.join(told)}")
    if missed:
        logger.warning(
            f"{host.print_prefix}not registered, so not told: {', '.join(missed)}; they get their "
            "settings when they boot"
        )
    host.run_shell_command(StringCommand("rm", "-f", pending_path), print_output=False)
    return True


@operation(is_idempotent=False)
def phones_told_to_resync(cli: str, pending_path: str, phones, notify: str = NOTIFY_CHECK_SYNC):
    """
    Send a check-sync NOTIFY to exactly the phones whose settings changed (pending), in one
    CLI command, then clear the pending list.

    + cli: the Asterisk CLI command (with -C)
    + pending_path: the pending file written by provisioning_published
    + phones: names of the phones Asterisk knows (others are dropped from the list)
    + notify: the pjsip_notify.conf section (televoc-check-sync or televoc-check-sync-reboot)
    """
    pending = host.get_fact(PendingNotifications, path=pending_path)
    names = [name for name in pending if name in set(phones)]
    if not names:
        if pending:
            yield StringCommand("rm", "-f", pending_path)
        host.noop("no phone's settings changed: no NOTIFY sent")
        return
    yield FunctionCommand(_notify, (cli, notify, names, pending_path), {})


def _unregistered(state, host, cli: str, names: tuple, wait: float, holdouts: Holdouts) -> bool:
    current = poll(cli, wait, lambda s: not s.running or not (s.registered & set(names)))
    holdouts.checked = True
    if current is None or not current.running:
        logger.info(f"{host.print_prefix}Asterisk is not running: no phone can be registered")
        return True
    still = [n for n in names if n in current.registered]
    wiped = [n for n in names if n not in still]
    holdouts.names[:] = still  # judged by teardown_finished, at the very end
    if wiped:
        logger.info(f"{host.print_prefix}wiped and unregistered: {', '.join(wiped)}")
    if still:
        logger.warning(
            f"{host.print_prefix}still registered after {wait:.0f} s, so still holding the event's "
            f"credentials: {', '.join(still)}. Removing the accounts all the same."
        )
    return True


@operation(is_idempotent=False)
def wiped_phones_unregistered(cli: str, phones, holdouts: Holdouts, wait: float = 60):
    """
    Wait until every provisioned phone has dropped its registration (a wiped phone
    unregisters); record in `holdouts` each phone that still holds the event's credentials.

    + cli: the Asterisk CLI command (with -C)
    + phones: names of the provisioned phones
    + holdouts: filled in for teardown_finished
    + wait: seconds to wait
    """
    names = tuple(phones)
    if not names:
        holdouts.checked = True
        host.noop("no provisioned phones")
        return
    yield FunctionCommand(_unregistered, (cli, names, float(wait), holdouts), {})


def _web(state, host, requests_path: str, phones: tuple, what: str, missed: bool) -> bool:
    command = f"curl -s -K {shlex.quote(requests_path)}; rm -f {shlex.quote(requests_path)}"
    _, output = host.run_shell_command(StringCommand("sh", "-c", shlex.quote(command)), print_output=False)
    replies = parse_replies(output.output_lines, phones)
    if replies.good:
        logger.info(f"{host.print_prefix}{what}: {', '.join(replies.good)}")
    if replies.bad:
        logger.error(
            f"{host.print_prefix}{what} failed for: "
            + ", ".join(f"{n} ({why})" for n, why in replies.bad.items())
        )
        return False
    return not missed


def _contact_host(uri: str) -> str | None:
    match = re.match(r"^sips?:(?:[^@]+@)?([^:;>]+)", uri)
    return match[1] if match else None


@operation(is_idempotent=False)
def phone_web_requests(cli: str, requests, requests_path: str, what: str, only_registered: bool = False):
    """
    Send HTTP GETs to phones' web interfaces from the PBX (which sits in the phone network),
    with curl, in one remote command; credentials go in a 0600 file that is removed after.
    A phone without an address in the directory is reached at its registered contact's host.

    + cli: the Asterisk CLI command (to find registered phones' addresses)
    + requests: WebRequests
    + requests_path: where the curl config is uploaded on the PBX (in a 0700 directory)
    + what: what the requests do, for the output
    + only_registered: skip phones that are not registered (teardown: they hold nothing live)
    """
    requests = list(requests)
    state = None
    if only_registered or any(r.address is None for r in requests):
        state = host.get_fact(AsteriskState, cli_command=cli)
    running = state is not None and state.running
    if only_registered:
        requests = [r for r in requests if running and r.phone in state.registered]
    if not requests:
        host.noop(f"no phone to {what}")
        return
    reachable, unknown = [], []
    for request in requests:
        if request.address is None and running:
            contacts = state.contacts_of(request.phone)
            address = _contact_host(contacts[0].uri) if contacts else None
            request = WebRequest(request.phone, address, request.paths, request.user, request.password)
        (reachable if request.address else unknown).append(request)
    if unknown:
        logger.warning(
            f"{host.print_prefix}cannot {what}: {', '.join(r.phone for r in unknown)}: not "
            "registered and no address in the directory"
        )
    if not reachable:
        raise OperationError(f"no phone could be reached to {what}: {', '.join(r.phone for r in unknown)}")
    yield StringCommand("install", "-d", "-m", "700", os.path.dirname(requests_path))
    yield FileUploadCommand(io.BytesIO(curl_config(reachable).encode()), requests_path)
    phones = tuple(r.phone for r in reachable)
    yield FunctionCommand(_web, (requests_path, phones, what, bool(unknown)), {})
