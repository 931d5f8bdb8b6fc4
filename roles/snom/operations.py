"""pyinfra operations for snom phones: publish provisioning files, tell phones to resync,
talk to phones' web interfaces. Remote commands do not grow with the number of phones."""

from __future__ import annotations

import gzip
import os
import re
import shlex
import time
from typing import Any, cast

from pyinfra import host, logger
from pyinfra import state as pyinfra_state
from pyinfra.api import (
    FunctionCommand,
    HiddenValue,
    OperationError,
    StringCommand,
    operation,
)

from roles.shared.beside import beside
from roles.shared.clock import utc_stamp
from roles.shared.files import (
    STAGED,
    UNREAD,
    put_file_atomically,
    run_per_line,
    sha256,
    swap_in_archive,
    write_failure_cause,
)
from roles.shared.leftovers import Leftovers
from roles.shared.names import NOTIFY_CHECK_SYNC
from roles.shared.ops import probing
from roles.shared.pbxcli import NO_SUCH_COMMAND, NO_SUCH_ENDPOINT, NOT_RUNNING
from roles.shared.pbxfacts import POLL_SECONDS, AsteriskState

from .dect import settings_file
from .facts import JsonFile, PendingNotifications, ProvisioningManifest
from .findings import findings, lock_sentence, sweepers_sentence
from .render import DIRECTORY_FILE, file_name
from .teardown import Outcome, TeardownRecord, contact_host, fetched_wipe, judged, report
from .web import WebRequest, curl_config, parse_replies


def _header(name: str, size: int) -> bytes:
    """A ustar header (POSIX.1-1988) of a regular file `name`, mode 0640, owner 0:0, mtime 0."""
    encoded = name.encode("ascii")
    if not 0 < len(encoded) <= 100:
        raise ValueError(f"{name!r}: a provisioning file's name takes 1 to 100 ASCII characters")
    header = bytearray(512)
    header[0 : len(encoded)] = encoded
    header[100:148] = b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (0o640, 0, 0, size, 0)  # mode uid gid size mtime
    header[148:156] = b" " * 8  # the checksum counts its own field as spaces
    header[156:157] = b"0"  # a regular file
    header[257:265] = b"ustar\x0000"
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def _tar(files: dict[str, str], manifest: str) -> bytes:
    """The files plus their manifest as a deterministic, gzipped tar (same input, same bytes).
    The headers are written here, not by `tarfile` (a tenth of its time: 10,000 files took it
    0.2 s); gzip level 1 (10,000 phones' near-identical files, 50 MB, go up as about 1 MB)."""
    parts = []
    for name, text in sorted({**files, ".manifest": manifest}.items()):
        data = text.encode()
        parts += [_header(name, len(data)), data, b"\0" * (-len(data) % 512)]
    parts.append(b"\0" * 1024)  # the end of the archive: two empty blocks
    return gzip.compress(b"".join(parts), compresslevel=1, mtime=0)


# (id of the files' HiddenValue, manifest, changed phones, the names it holds) -> its archive,
# packed beside the run
_archives: dict[tuple, Any] = {}


def _archive(files: HiddenValue, manifest: str, changed: list, only: tuple[str, ...] | None = None) -> Any:
    """The archive _publish uploads (_tar of the files, their manifest and the phones to tell;
    `only`: of those files only these), packed once, in a native thread beside the run's
    remote commands (roles/shared/beside.py: 0.2 s at 10,000 phones that a first deploy
    spends waiting on the PBX anyway), started when pyinfra first looks at the operation;
    its ThreadResult."""
    key = (id(files), manifest, tuple(changed), only)
    if key not in _archives:
        # The phones to tell travel inside the archive, not on a command line (10,000 names
        # would pass the kernel's limit for one command).
        extra = {".pending-add": "".join(f"{name}\n" for name in changed)} if changed else {}
        every = _files(files)
        chosen = every if only is None else {name: every[name] for name in only}
        _archives[key] = beside(_tar, {**chosen, **extra}, manifest)
    return _archives[key]


def differing(live: dict | None, wanted: dict[str, str]) -> tuple[str, ...] | None:
    """The files (by name) that differ from the published ones (`live`: the manifest, None:
    nothing published): what a publication sends when the served files are kept; None when
    there is nothing to keep (everything goes)."""
    if live is None:
        return None
    return tuple(sorted(name for name, sha in wanted.items() if live.get(name) != sha))


def _publish(
    state,
    host,
    files: HiddenValue,
    manifest: str,
    only: tuple[str, ...] | None,
    directory: str,
    manifest_path: str,
    pending_path: str,
    changed: list,
    group: str,
) -> bool:
    """Upload the files as one tar and swap the served directory: with `only` (the files that
    differ from the served ones), the served files are kept (hard links, checked against the
    manifest) and only `only` goes up; should that fail (a served file changed or gone since
    it was published), every file goes up, as without. Whatever fails leaves nothing of this
    run's files behind (they hold passwords) and the old directory serving."""
    parent = os.path.dirname(pending_path)
    upload = f"{parent}/.provisioning.tar"
    pending = shlex.quote(directory + STAGED + "/.pending-add")
    # before the swap: an interruption costs at most a needless NOTIFY
    before = [f"cat {pending} >> {shlex.quote(pending_path)} && rm -f {pending}"] if changed else []
    every = only is None
    if not every:
        data = _archive(files, manifest, changed, only).get()
        uploaded, done, every = swap_in_archive(host, data, upload, directory, group, manifest_path, before, keep=True)
        if every:
            logger.warning(
                f"{host.print_prefix}the served provisioning files are not the ones last published "
                f"(changed or removed on the PBX since): every file of {directory} is published again"
            )
    if every:
        data = _archive(files, manifest, changed).get()
        uploaded, done, _ = swap_in_archive(host, data, upload, directory, group, manifest_path, before)
    if done:
        return True
    where = parent if not uploaded else os.path.dirname(directory)
    logger.error(
        f"{host.print_prefix}could not publish the provisioning files to {directory}: "
        f"{write_failure_cause(host, where)}. Nothing of this run's files is left on the PBX. "
        "The provisioning server keeps offering what was published before."
    )
    return False


def _files(files: HiddenValue) -> dict[str, str]:
    """The provisioning files a HiddenValue keeps from pyinfra's output (name -> text)."""
    return cast(dict[str, str], files.unmask())


def changed_phones(live: dict | None, wanted: dict[str, str], phones) -> list[str]:
    """The phones whose file differs from what is published (`live`: the manifest, None when
    nothing was ever published; `wanted`: file name -> sha256, Provisioning.digests): they are
    to be told to fetch it."""
    by_file = {file_name(a): a.name for a in phones}
    differ = differing(live, wanted)
    return sorted(by_file[name] for name in (wanted if differ is None else differ) if name in by_file)


def changed_bases(live: dict | None, files: dict, bases) -> list[str]:
    """The DECT bases (by name) whose settings file in `files` differs from what is published
    (`live`: the manifest, None when nothing was ever published): bases_resynced tells them."""
    return [
        b.name for b in bases if (name := settings_file(b)) in files and (live or {}).get(name) != sha256(files[name])
    ]


def bases_sentence(names: list[str]) -> str:
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return (
        f"DECT base{'s' if len(names) != 1 else ''} whose settings changed: {shown}: a base with a handset "
        "registered is told to fetch them (check-sync), the others fetch them when they boot"
    )


def directory_changed(live: dict | None, wanted: dict[str, str]) -> bool:
    """The published directory (DIRECTORY_FILE, by its digest in the manifest `live`) differs
    from the one `wanted` (file name -> sha256) has; False when nothing was ever published
    (every phone is new)."""
    if live is None:
        return False
    return live.get(DIRECTORY_FILE) != wanted.get(DIRECTORY_FILE)


def _directory_line(count: int) -> str:
    return f"the directory changed: {count} provisioned phone{'' if count == 1 else 's'} resync"


@operation()
def provisioning_published(
    directory: str,
    files: HiddenValue,
    phones,
    pending_path: str,
    group: str,
    live=UNREAD,
    bases=(),
    digests=None,
):
    """
    Publish the provisioning files (they hold passwords: root:<group> 0640, never printed)
    and record the phones whose file changed as pending a resync NOTIFY. One upload and one
    command for all phones; the directory is replaced as a whole.

    + directory: what the provisioning server serves
    + files: HiddenValue of {file name: text}
    + phones: the accounts the files are for
    + pending_path: the file listing phones still to be told; the manifest of the published
      files sits beside it, outside what the provisioning server serves
    + group: the provisioning server's group (the only one that may read the files)
    + live: the published manifest (file name -> sha256, None: never published) as the run's
      snapshot read it; without it, the operation reads it
    + bases: the DECT bases whose files are among `files`: those whose settings changed are
      named for the crew (bases_resynced tells them)
    + digests: file name -> sha256 of `files` (Provisioning.digests); without it, worked out here
    """
    wanted = digests if digests is not None else {name: sha256(text) for name, text in _files(files).items()}
    manifest_path = f"{os.path.dirname(pending_path)}/provisioning.manifest"
    if live is UNREAD:
        live = host.get_fact(ProvisioningManifest, path=manifest_path)
    if live == wanted or (live is None and not wanted):
        host.noop(f"provisioning files of {len(phones)} phones are already published")
        return
    changed = changed_phones(live, wanted, phones)
    manifest = "".join(f"{sha}  {name}\n" for name, sha in sorted(wanted.items()))
    parent = os.path.dirname(pending_path)
    only = differing(live, wanted)  # what was published before stays where it is
    _archive(files, manifest, changed, only)  # packing starts now, beside the run
    yield StringCommand("install", "-d", "-m", "750", "-o", "root", "-g", "asterisk", parent)
    yield FunctionCommand(_publish, (files, manifest, only, directory, manifest_path, pending_path, changed, group), {})
    bases_changed = changed_bases(live, _files(files), bases)
    if bases_changed:
        yield FunctionCommand(_say, (bases_sentence(bases_changed),), {})


TOLD_MARK = "@@televoc-told"


def notify_script(cli: str, notify: str) -> str:
    """Shell commands that send NOTIFY `notify` to the phones named on standard input that are
    registered now, 100 endpoints per CLI command (Asterisk sends nothing to an endpoint
    without a contact, yet prints "Sending NOTIFY" for it), then print TOLD_MARK and those
    phones. Who is registered comes from Asterisk's registrar in the same command (one row per
    contact: a twentieth of a second at 10,000 phones); its errors (not running, no such
    command) are printed before the mark."""
    q = shlex.quote
    names = r"s#^/registrar/contact/\([^;]*\);@.*#\1#p"
    return "; ".join(
        [
            "d=$(mktemp -d) || exit 1",
            f'{cli} -rx {q("database show registrar/contact")} > "$d/registrar" 2>&1',
            f'grep -E {q(NOT_RUNNING + "|" + NO_SUCH_COMMAND)} "$d/registrar"',
            f'sed -n {q(names)} "$d/registrar" | sort -u > "$d/registered"',
            'grep -F -x -f "$d/registered" > "$d/told"',
            f'xargs -r -n 100 sh -c \'{cli} -rx "pjsip send notify {notify} endpoint $*"\' televoc < "$d/told"',
            f'echo {TOLD_MARK}; cat "$d/told"; rm -rf "$d"',
        ]
    )


def _notify(
    state, host, cli: str, notify: str, names: list[str], pending_path: str, changes, directory_resync: int = 0
) -> bool:
    if changes is not None:
        changes.asterisk = True  # told phones fetch and may register again
    # The names go up as a file (10,000 of them do not fit on one command line).
    status, output = run_per_line(
        host, names, f"{os.path.dirname(pending_path)}/.notify-names", notify_script(cli, notify)
    )
    lines = output[: output.index(TOLD_MARK)] if TOLD_MARK in output else output
    if not status or TOLD_MARK not in output or any(NO_SUCH_COMMAND in line or NOT_RUNNING in line for line in lines):
        logger.error(f"{host.print_prefix}could not send NOTIFY {notify}: {' '.join(lines)[:300]}")
        return False
    # Told: registered when the NOTIFY went out, and an endpoint Asterisk knows.
    unknown = {m[1] for m in (re.match(rf"^{NO_SUCH_ENDPOINT} (\S+)", line) for line in lines) if m}
    registered = {line.strip() for line in output[output.index(TOLD_MARK) + 1 :]}
    told = [n for n in names if n in registered and n not in unknown]
    missed = [n for n in names if n not in told]
    if directory_resync:  # every provisioned phone: one line, not one name each
        logger.info(
            f"{host.print_prefix}{_directory_line(directory_resync)}: {len(told)} registered, "
            f"told to fetch their settings ({notify})"
        )
    elif told:
        logger.info(f"{host.print_prefix}told to fetch their settings ({notify}): {', '.join(told)}")
    if missed and directory_resync and len(missed) > 10:
        logger.warning(
            f"{host.print_prefix}not registered, so not told: {len(missed)} phones ({', '.join(missed[:10])}, "
            "...); they get their settings when they boot"
        )
    elif missed:
        logger.warning(
            f"{host.print_prefix}not registered, so not told: {', '.join(missed)}; they get their "
            "settings when they boot"
        )
    host.run_shell_command(StringCommand("rm", "-f", pending_path), print_output=False)
    return True


def _say(state, host, warning: str) -> bool:
    logger.warning(f"{host.print_prefix}{warning}")
    return True


@operation(is_idempotent=False)
def phones_told_to_resync(
    cli: str,
    pending_path: str,
    phones,
    notify: str = NOTIFY_CHECK_SYNC,
    pending=UNREAD,
    also=(),
    changes=None,
    directory_resync: int = 0,
):
    """
    Send a check-sync NOTIFY to exactly the phones whose settings changed (pending), in one
    CLI command, then clear the pending list.

    + cli: the Asterisk CLI command (with -C)
    + pending_path: the pending file written by provisioning_published
    + phones: names of the phones Asterisk knows (others are dropped from the list)
    + notify: the pjsip_notify.conf section (televoc-check-sync or televoc-check-sync-reboot)
    + pending: the pending list as the run's snapshot read it (None: no file); without it,
      the operation reads it
    + also: phones whose file this run publishes anew (not in the snapshot's list yet)
    + changes: the run's RunChanges (a NOTIFY makes phones fetch and register again)
    + directory_resync: the number of provisioned phones whose file changed because the
      directory (their tbook) changed: said in one line instead of naming each phone
    """
    if pending is UNREAD:
        pending = host.get_fact(PendingNotifications, path=pending_path)
    wanted = set(phones)
    names = list(dict.fromkeys(n for n in [*(pending or []), *also] if n in wanted))
    strangers = [n for n in dict.fromkeys(pending or []) if n not in wanted]
    if strangers:  # said when the step runs (a FunctionCommand), not when it is worked out
        shown = ", ".join(strangers[:10]) + (f", ... ({len(strangers)} in all)" if len(strangers) > 10 else "")
        yield FunctionCommand(
            _say,
            (
                f"{pending_path} names {shown}: no provisioned phone of this event (removed or "
                "unprovisioned since, or written by hand): dropped from the list, not told",
            ),
            {},
        )
    if not names:
        if pending is not None:  # only names of phones no longer in the directory, or garbage
            yield StringCommand("rm", "-f", pending_path)
        host.noop("no phone's settings changed: no NOTIFY sent")
        return
    if directory_resync and not pyinfra_state.is_executing and not probing():  # --dry, --diff, the prompt
        logger.info(f"{host.print_prefix}will change: {_directory_line(directory_resync)}")
    yield FunctionCommand(_notify, (cli, notify, names, pending_path, changes, directory_resync), {})


def _upload_requests(state, host, config: HiddenValue, path: str) -> bool:
    return put_file_atomically(host, config.unmask().encode(), path, "600", unchanged="No phone was sent anything.")


def _web(state, host, requests_path: str, addresses: dict, what: str, missed: bool, outcome: Outcome | None) -> bool:
    command = f"curl -s -K {shlex.quote(requests_path)}; rm -f {shlex.quote(requests_path)}"
    _, output = host.run_shell_command(StringCommand("sh", "-c", shlex.quote(command)), print_output=False)
    replies = parse_replies(output.output_lines, tuple(addresses))
    for name in replies.good:
        logger.info(f"{host.print_prefix}{name}: {what}: answered at {addresses[name]}")
    for name, why in replies.bad.items():
        log = logger.warning if outcome is not None else logger.error
        log(f"{host.print_prefix}{name}: {what} at {addresses[name]} failed: {why}")
    if outcome is not None:  # teardown: the record judges at the end
        outcome.reset.update({n: f"answered the factory reset at {addresses[n]}" for n in replies.good})
        outcome.attempts.update({n: f"factory reset at {addresses[n]}: {why}" for n, why in replies.bad.items()})
        return True
    return not replies.bad and not missed


@operation(is_idempotent=False)
def phone_web_requests(cli: str, requests, requests_path: str, what: str, outcome: Outcome | None = None):
    """
    Send HTTP GETs to phones' web interfaces from the PBX (which sits in the phone network),
    with curl, in one remote command; credentials go in a 0600 file that is removed after.
    A phone without an address is reached at its registered contact's host.

    + cli: the Asterisk CLI command (to find registered phones' addresses)
    + requests: WebRequests
    + requests_path: where the curl config is uploaded on the PBX (in a 0700 directory)
    + what: what the requests do, for the output
    + outcome: teardown's Outcome: answers are recorded there and judged at the end (this
      step then does not fail); without it, a phone that does not answer 2xx fails the step
    """
    requests = list(requests)
    if not requests:
        host.noop(f"no phone to {what}")
        return
    state = None
    if any(r.address is None for r in requests):
        state = host.get_fact(AsteriskState, cli_command=cli)
    reachable: list[WebRequest] = []
    unknown: list[WebRequest] = []
    for request in requests:
        if request.address is None and state is not None and state.running:
            contacts = state.contacts_of(request.phone)
            address = contact_host(contacts[0].uri) if contacts else None
            request = WebRequest(request.phone, address, request.paths, request.user, request.password)
        (reachable if request.address else unknown).append(request)
    if unknown:
        names = ", ".join(r.phone for r in unknown)
        logger.warning(f"{host.print_prefix}cannot {what}: {names}: not registered and no address known")
        if outcome is not None:
            outcome.attempts.update({r.phone: "no address known to reach it" for r in unknown})
    if not reachable:
        if outcome is None:
            raise OperationError(f"no phone could be reached to {what}: {', '.join(r.phone for r in unknown)}")
        host.noop(f"no phone can be reached to {what}")
        return
    yield StringCommand("install", "-d", "-m", "700", os.path.dirname(requests_path))
    yield FunctionCommand(_upload_requests, (HiddenValue(curl_config(reachable)), requests_path), {})
    addresses = {r.phone: r.address for r in reachable}
    yield FunctionCommand(_web, (requests_path, addresses, what, bool(unknown), outcome), {})


def _wipe_fetched(
    state, host, state_path: str, record: TeardownRecord, outcome: Outcome, wiped: dict[str, str], wait: float
) -> bool:
    """Poll the provisioning server's state until every told phone fetched the wiped profile."""
    told = [n for n in record.pending if record.phones[n].mac and record.phones[n].registered]  # bases too
    deadline = time.monotonic() + wait
    shown = None
    for _ in range(int(wait / POLL_SECONDS) + 2):  # bounded in count and in time
        server = host.get_fact(JsonFile, path=state_path) or {}
        outcome.fetched.update(fetched_wipe(record, server.get("fetches") or {}, wiped))
        waiting = [n for n in told if n not in outcome.fetched]
        progress = f"{len(told) - len(waiting)} of {len(told)} phones told to fetch the wiped profile did"
        if waiting and progress != shown and time.monotonic() < deadline:
            logger.info(f"{host.print_prefix}{progress}, waiting up to {max(0, deadline - time.monotonic()):.0f} s")
            shown = progress
        if not waiting or time.monotonic() >= deadline:
            break
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    for name in told:
        if name not in outcome.fetched:
            outcome.attempts.setdefault(name, f"told to fetch the wiped profile, did not within {wait:.0f} s")
    for name in outcome.fetched:
        logger.info(f"{host.print_prefix}{name}: {outcome.fetched[name]}")
    return True


@operation(is_idempotent=False)
def wiped_profiles_fetched(
    state_path: str, record: TeardownRecord, outcome: Outcome, wiped: dict[str, str], wait: float = 60
):
    """
    Find the phones that fetched the wiped profile (the provisioning server's state names
    the version it served each MAC), waiting up to `wait` seconds for the phones that were
    told to; fills `outcome.fetched`. Judged by teardown_judged at the end.

    + state_path: the provisioning server's state file
    + record: the teardown record (pending phones with MAC)
    + outcome: filled in
    + wiped: MAC (upper case) -> the version the server reports for its wiped profile
    + wait: seconds to wait for told phones
    """
    if not any(record.phones[n].mac for n in record.pending):
        host.noop("no provisioned phone left to wipe")
        return
    yield FunctionCommand(_wipe_fetched, (state_path, record, outcome, dict(wiped), float(wait)), {})


def _judge(
    state, host, path: str, record: TeardownRecord, outcome: Outcome, was_clean: bool, leftovers: Leftovers | None
) -> bool:
    now = utc_stamp()
    pending_before = len(record.pending)
    judged(record, outcome, now)
    if not put_file_atomically(
        host,
        record.to_json().encode(),
        path,
        "600",
        unchanged="The phones proven clean in this run are not recorded: run teardown again.",
    ):
        return False
    lines = report(record)
    if was_clean:
        logger.info(
            f"{host.print_prefix}nothing left to do: every phone of the event was proven clean "
            f"(teardown started {record.started}):"
        )
    for line in lines:
        logger.info(f"    {line}")
    pending = record.pending
    proven = pending_before - len(pending)
    if leftovers is not None and proven:
        leftovers.removed.append(
            f"the event's credentials from {proven} phone{'s' if proven != 1 else ''}, proven clean"
        )
    if pending:
        what = (
            f"{len(pending)} of {len(record.phones)} phones still hold the event's credentials: "
            f"{', '.join(pending)} (each line above says what to do)"
        )
        if leftovers is not None:  # the teardown's last step names it with the rest, and fails
            leftovers.left.append(f"{what}; the record of what is proven is kept on the PBX ({path})")
            return True
        logger.error(
            f"{host.print_prefix}teardown incomplete: {what}. The record of what is proven is kept on the PBX "
            f"({path}); run teardown again."
        )
        return False
    if not was_clean:
        logger.info(f"{host.print_prefix}every phone of the event is proven clean")
    return True


@operation(is_idempotent=False)
def teardown_judged(path: str, record: TeardownRecord, outcome: Outcome, leftovers: Leftovers | None = None):
    """
    Write this run's proofs into the teardown record on the PBX, print every phone, and name
    each phone that still holds the event's credentials: in `leftovers` (the teardown's last
    step fails naming them), or, without it, by failing here.

    + path: the record on the PBX (root 0600)
    + record: the record this run started from
    + outcome: what this run's steps found
    + leftovers: gets the phones proven clean in this run and those still holding credentials
    """
    was_clean = bool(record.phones) and not record.pending
    yield FunctionCommand(_judge, (path, record, outcome, was_clean, leftovers), {})


def _acknowledged(server: dict | None, control: dict) -> bool:
    if not control:
        return True
    server = server or {}
    if "unlock" in control and server.get("unlock_token") != control["unlock"]:
        return False
    tokens = server.get("rearm_tokens") or {}
    return all(tokens.get(mac) == token for mac, token in (control.get("rearm") or {}).items())


def _check(
    state, host, state_path: str, cli: str, directory, mode: str, control: dict, snapshot, unlock_path: str
) -> bool:
    server = None
    if snapshot is not None and not control:  # nothing told to the server in this run
        server = snapshot.text_json(state_path)
    else:
        for _ in range(int(CONTROL_WAIT / 0.5) + 1):  # the server takes control.json within a second
            server = host.get_fact(JsonFile, path=state_path)
            if _acknowledged(server, control):
                break
            time.sleep(0.5)
        else:
            logger.error(
                f"{host.print_prefix}the provisioning server did not take the unlock / re-arm "
                f"within {CONTROL_WAIT:.0f} s: is it running? (journalctl -u televoc-provisioning)"
            )
            return False
    pbx = snapshot.asterisk if snapshot is not None else host.get_fact(AsteriskState, cli_command=cli)
    found = findings(server, directory, pbx)
    for sentence in found.foreign:
        logger.warning(f"{host.print_prefix}{sentence}")
    for sentence in found.bases:
        logger.info(f"{host.print_prefix}{sentence}")
    if found.sweepers:
        logger.warning(f"{host.print_prefix}{sweepers_sentence(found.sweepers)}")
    if found.refused:
        top = sorted(found.refused.items(), key=lambda kv: -kv[1])[:5]
        logger.warning(
            f"{host.print_prefix}the provisioning server refused requests from: "
            + ", ".join(f"{source} ({count})" for source, count in top)
            + (f" and {len(found.refused) - 5} more" if len(found.refused) > 5 else "")
            + f"; unknown MACs asked for: {len(found.unknown)} (its log: which, when)"
        )
    if found.locked is None:
        return True
    message = f"{host.print_prefix}{lock_sentence(found.locked, unlock_path)}"
    if mode == "report":
        logger.warning(message)
        return True
    logger.error(message)
    return False


CONTROL_WAIT = 10.0


@operation(is_idempotent=False)
def provisioning_checked(
    state_path: str,
    cli: str,
    directory,
    mode: str = "strict",
    control=None,
    snapshot=None,
    unlock_path: str = "/var/lib/televoc-provisioning/unlock",
):
    """
    Report what the provisioning server saw: phones whose settings were fetched from an
    address other than the phone's, sources refused for sweeping, other refused sources;
    fail while it is locked for everyone (strict), saying how the crew lifts the lock.

    + state_path: the provisioning server's state file
    + cli: the Asterisk CLI command (phones' registered addresses)
    + directory: the event
    + mode: "strict" fails while the server is locked; "report" only warns
    + control: what this run wrote into control.json: waits until the server's state shows it
    + snapshot: the run's one read of the PBX: enough when nothing was told to the server
    + unlock_path: the crew's unlock file (named in the lock's message)
    """
    yield FunctionCommand(_check, (state_path, cli, directory, mode, dict(control or {}), snapshot, unlock_path), {})
