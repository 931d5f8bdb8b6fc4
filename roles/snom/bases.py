"""DECT bases fetch the settings the deploy published: told, then proven.

A snom base fetches its settings when it boots. After a change (a handset added, renamed, a
new password), the deploy tells it to fetch them again the way the maintained Wazo snom DECT
plugin does: a SIP NOTIFY `Event: check-sync;reboot=true`, sent to one handset account the
base has registered (Asterisk sends it to that account's contact: the base's address). snom's
own documentation of check-sync on the M-series was not found (the notes, dect.md 1.5): the
lab's simulated base reboots on it, and whether a real base needs the reboot is one of the
things a crew checks with one real base (docs/dect.md).

Proven, not assumed: the provisioning server records the version of the file it served to
each MAC (provisiond.py's state). A base holds its current settings when the version it
fetched is the version published now; the deploy tells only the bases that do not, and waits
(bounded) until each told base fetched it. Stateless on purpose: a run interrupted between
publishing and telling leaves a base out of date, and the next run sees it and tells it.

Remote commands do not grow with the bases or handsets: none when every base holds its
settings (read from the run's snapshot), else one command that picks one registered handset
per base and sends the NOTIFYs, then reads of the server's state every POLL_SECONDS until
each told base fetched (bounded by `wait`).
"""

from __future__ import annotations

import hashlib
import shlex
import time
from dataclasses import dataclass

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, operation

from roles.event import Directory
from roles.event.dectmodels import BASE_MODELS
from roles.shared.files import run_per_line
from roles.shared.pbxcli import NO_SUCH_COMMAND, NOT_RUNNING, PbxState
from roles.shared.pbxfacts import POLL_SECONDS

from .dect import VENDOR, settings_file
from .facts import JsonFile

TOLD_MARK = "@@televoc-bases-told"


def version(text: str) -> str:
    """The version the provisioning server names a file by (its state, its log)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class OutOfDate:
    """A base that has not fetched the settings published now.

    + name, model, mac: the base (mac upper case, as the server's state keys it)
    + version: the version of its settings published now
    + handsets: its handsets registered when the run began, in slot order: who can carry
      the NOTIFY (none for a secondary: it holds no account)
    + fetched: the address that fetched an earlier version, if any
    """

    name: str
    model: str
    mac: str
    version: str
    handsets: tuple[str, ...]
    fetched: str | None = None


def out_of_date(
    directory: Directory, files: dict[str, str], server: dict | None, pbx: PbxState | None
) -> list[OutOfDate]:
    """Pure: the snom bases whose settings in `files` (the published files) differ from what
    the provisioning server (`server`: its state) last served them, in dect.yml's order."""
    fetches = (server or {}).get("fetches") or {}
    live = pbx if pbx is not None and pbx.running else None
    found = []
    for base in directory.bases:
        name = settings_file(base)
        if BASE_MODELS[base.model].vendor != VENDOR or name not in files:
            continue
        wanted = version(files[name])
        fetch = fetches.get(base.mac.upper())
        if isinstance(fetch, dict) and fetch.get("version") == wanted:
            continue
        registered = (
            tuple(a.name for a in directory.handsets(base.name) if live.contacts_of(a.name))
            if live is not None and base.holds_accounts
            else ()
        )
        source = fetch.get("source") if isinstance(fetch, dict) else None
        found.append(OutOfDate(base.name, base.model, base.mac.upper(), wanted, registered, source))
    return found


def last_fetched_from(directory: Directory, server: dict | None) -> dict[str, str]:
    """Pure: base name -> the address that fetched its settings last (any version), from the
    provisioning server's state: where the crew finds a base that is offline."""
    fetches = (server or {}).get("fetches") or {}
    return {
        b.name: str(f["source"])
        for b in directory.bases
        if isinstance(f := fetches.get(b.mac.upper()), dict) and f.get("source")
    }


def untold_sentence(base: OutOfDate, secondary: bool) -> str:
    """Why a base out of date is not told, and what the crew does."""
    if secondary:
        why = "a secondary holds no handset account to carry check-sync"
    elif base.fetched is None:
        why = "it has not fetched any yet and none of its handsets is registered"
    else:
        why = f"none of its handsets is registered (it fetched an earlier version from {base.fetched})"
    return (
        f"DECT base {base.name} ({base.model}) has not fetched its current settings and cannot be told: {why}; "
        "it fetches them when it boots (power it up, or reboot it on its web interface)"
    )


def tell_script(cli: str, notify: str) -> str:
    """Shell commands that read 'BASE HANDSET' lines on standard input (each base's handsets
    in slot order), pick for each base the first handset registered now (Asterisk's
    registrar, in the same command), send NOTIFY `notify` to those endpoints, 100 per CLI
    command, then print TOLD_MARK and the 'BASE HANDSET' lines told."""
    q = shlex.quote
    names = r"s#^/registrar/contact/\([^;]*\);@.*#\1#p"
    first = "NR==FNR {r[$0]=1; next} ($2 in r) && !($1 in s) {s[$1]=1; print}"
    return "; ".join(
        [
            "d=$(mktemp -d) || exit 1",
            f'{cli} -rx {q("database show registrar/contact")} > "$d/registrar" 2>&1',
            f'grep -E {q(NOT_RUNNING + "|" + NO_SUCH_COMMAND)} "$d/registrar"',
            f'sed -n {q(names)} "$d/registrar" | sort -u > "$d/registered"',
            f'awk {q(first)} "$d/registered" - > "$d/told"',
            f'cut -d " " -f 2 "$d/told" | xargs -r -n 100 sh -c \'{cli} -rx "pjsip send notify {notify} endpoint $*"\''
            " televoc",
            f'echo {TOLD_MARK}; cat "$d/told"; rm -rf "$d"',
        ]
    )


def fetched_now(bases: list[OutOfDate], server: dict | None) -> dict[str, dict]:
    """Pure: base name -> the server's fetch record, for the bases that fetched their current version."""
    fetches = (server or {}).get("fetches") or {}
    return {b.name: f for b in bases if isinstance(f := fetches.get(b.mac), dict) and f.get("version") == b.version}


def _tell(
    state,
    host,
    cli: str,
    bases: list[OutOfDate],
    notify: str,
    paths: tuple[str, str],
    wait: float | None,
    mode: str,
    changes,
):
    state_path, list_path = paths
    if changes is not None:
        changes.asterisk = True  # a told base reboots: its handsets register again
    lines = [f"{b.name} {h}" for b in bases for h in b.handsets]
    status, output = run_per_line(host, lines, list_path, tell_script(cli, notify))
    errors = output[: output.index(TOLD_MARK)] if TOLD_MARK in output else output
    if not status or TOLD_MARK not in output or any(NO_SUCH_COMMAND in x or NOT_RUNNING in x for x in errors):
        logger.error(f"{host.print_prefix}could not send NOTIFY {notify} to the DECT bases: {' '.join(errors)[:300]}")
        return False
    told = dict(line.split(" ", 1) for line in output[output.index(TOLD_MARK) + 1 :] if " " in line)
    for b in bases:
        if b.name not in told:
            logger.warning(
                f"{host.print_prefix}DECT base {b.name}: none of its handsets is registered any more, so not told: "
                "it fetches its settings when it boots (reboot it)"
            )
    waiting = [b for b in bases if b.name in told]
    for b in waiting:
        logger.info(f"{host.print_prefix}DECT base {b.name}: told to fetch its settings ({notify} to {told[b.name]})")
    if wait is None:  # teardown: its own step waits for every phone and base
        return True
    start = time.monotonic()
    deadline = start + wait
    done: dict[str, dict] = {}
    for _ in range(int(wait / POLL_SECONDS) + 2):  # bounded in count and in time
        done = fetched_now(waiting, host.get_fact(JsonFile, path=state_path))
        if len(done) == len(waiting) or time.monotonic() >= deadline:
            break
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    for b in waiting:
        if b.name in done:
            logger.info(
                f"{host.print_prefix}DECT base {b.name} fetched its settings (version {b.version}) from "
                f"{done[b.name].get('source')} within {time.monotonic() - start:.0f} s"
            )
    late = [b.name for b in waiting if b.name not in done]
    if not late:
        return True
    message = (
        f"{host.print_prefix}DECT base{'s' if len(late) > 1 else ''} told but not fetched within {wait:.0f} s: "
        f"{', '.join(late)}: its handsets keep their old settings; check the base (its web interface, the "
        "provisioning log) and run again"
    )
    if mode == "report":
        logger.warning(message)
        return True
    logger.error(message)
    return False


def _say(state, host, lines: list[str]) -> bool:
    for line in lines:
        logger.warning(f"{host.print_prefix}{line}")
    return True


@operation(is_idempotent=False)
def bases_resynced(
    cli: str,
    bases: list[OutOfDate],
    notify: str,
    state_path: str,
    list_path: str,
    wait: float | None = 120,
    mode: str = "strict",
    changes=None,
):
    """
    Tell each DECT base that has not fetched its current settings and has a handset
    registered to fetch them (NOTIFY `notify` to one of its registered handsets), and wait
    until each told base fetched them (the provisioning server's state).

    + cli: the Asterisk CLI command (with -C)
    + bases: out_of_date()'s bases (those without a registered handset are left to
      bases_untold)
    + notify: the pjsip_notify.conf section to send
    + state_path: the provisioning server's state file
    + list_path: where the list of bases and handsets goes up (removed after)
    + wait: seconds to wait for the told bases to fetch (None: do not wait, teardown)
    + mode: "strict" fails while a told base has not fetched; "report" warns
    + changes: the run's RunChanges (a told base reboots and registers again)
    """
    tellable = [b for b in bases if b.handsets]
    if not tellable:
        host.noop("no DECT base to tell: each holds its current settings, or has no handset registered")
        return
    yield FunctionCommand(
        _tell,
        (cli, tellable, notify, (state_path, list_path), None if wait is None else float(wait), mode, changes),
        {},
    )


@operation(is_idempotent=False)
def bases_untold(bases: list[OutOfDate], secondaries: frozenset[str]):
    """
    Name the DECT bases that have not fetched their current settings and that nobody can
    tell (no handset registered, or a secondary), with what the crew does.

    + bases: out_of_date()'s bases
    + secondaries: the names of those that are secondaries (no account to carry a NOTIFY)
    """
    untold = [untold_sentence(b, b.name in secondaries) for b in bases if not b.handsets]
    if not untold:
        host.noop("every DECT base holds its current settings, or is told")
        return
    yield FunctionCommand(_say, (untold,), {})
