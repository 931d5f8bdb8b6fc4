"""pyinfra operations for Asterisk: keep it running, make the new config live, verify phones."""

from __future__ import annotations

import shlex
from typing import Any

from pyinfra import host, logger
from pyinfra import state as pyinfra_state
from pyinfra.api import FunctionCommand, HiddenValue, StringCommand, operation

from roles.event import Account
from roles.event.changes import account, parse_summary
from roles.shared import pbxcli
from roles.shared.files import (
    UNREAD,
    FileDigests,
    TextFile,
    put_file_atomically,
    run_per_line,
    sha256,
    text_as_found,
)
from roles.shared.names import TRUNK
from roles.shared.ops import probing
from roles.shared.pbxcli import claimed_registered
from roles.shared.pbxfacts import AsteriskState, poll

from .render import bridged, changed_credentials
from .report import (
    LiveConfig,
    RunChanges,
    config_mismatches,
    peer_problems,
    registration_problems,
    registration_table,
    summary,
    table_csv,
    trunk_problem,
    unanswerable_groups,
    wrapped,
)


def _wait_running(state, host, cli: str, wait: float, changes: RunChanges, aors: int | None = None) -> bool:
    changes.asterisk = True
    current = poll(cli, wait, lambda s: s.running, aors=aors)
    if current is None or not current.running:
        logger.error(f"{host.print_prefix}Asterisk did not start within {wait:.0f} s")
        return False
    return True


@operation(is_idempotent=False)
def running(
    cli: str, start: str, wait: float = 15, state=UNREAD, changes: RunChanges | None = None, aors: int | None = None
):
    """
    Start Asterisk when its CLI cannot connect; wait until it answers.

    + cli: the Asterisk CLI command (with -C)
    + start: the command that starts it (systemctl start asterisk)
    + wait: seconds to wait for it to answer
    + state: Asterisk's state as the run's snapshot read it (without it: read now)
    + changes: gets `asterisk = True` when it had to be started
    + aors: about how many aors it serves (how its state is read: pbxcli.aor_listings)

    .. code:: python

        running(name="Asterisk is running", cli="asterisk -C /etc/asterisk/asterisk.conf",
                start="systemctl start asterisk.service")
    """
    if state is UNREAD:
        state = host.get_fact(AsteriskState, cli_command=cli, aors=aors)
    if state is not None and state.running:
        host.noop(f"Asterisk {state.version} is running")
        return
    yield StringCommand(start)
    yield FunctionCommand(_wait_running, (cli, wait, changes if changes is not None else RunChanges(), aors), {})


def _confirm(state, host, cli: str, expected: LiveConfig, wait: float, start: str, changes: RunChanges) -> bool:
    changes.asterisk = True
    aors = expected.listed_aors
    current = poll(cli, wait, lambda s: not s.running or not config_mismatches(s, expected), aors=aors)
    if current is not None and not current.running:
        # Killed or crashed after the reload: start it again at once (registrations come
        # back from its database) rather than leave the PBX down until someone notices.
        logger.warning(
            f"{host.print_prefix}Asterisk stopped right after the reload (killed or crashed); starting it again"
        )
        host.run_shell_command(StringCommand(start), print_output=False)
        current = poll(cli, wait, lambda s: s.running and not config_mismatches(s, expected), aors=aors)
        if current is not None and current.running and not config_mismatches(current, expected):
            logger.warning(
                f"{host.print_prefix}Asterisk runs again and serves config generation "
                f"{expected.generation}; the phones' registrations come back from its database. "
                "Look at its log (journalctl -u asterisk) for why it stopped."
            )
            return True
    reasons = ["no answer from Asterisk"] if current is None else config_mismatches(current, expected)
    if not reasons:
        return True
    if current is None or not current.running:
        logger.error(
            f"{host.print_prefix}Asterisk stopped after the reload and did not start again within "
            f"{wait:.0f} s: no phone can call now. Look at its log (journalctl -u asterisk) and run "
            "again; the run starts it."
        )
        return False
    logger.error(
        f"{host.print_prefix}Asterisk rejected the new config ({'; '.join(reasons)}). Asterisk "
        "keeps serving what it had (phones stay registered); look at its log (journalctl -u "
        "asterisk) for the line it refused, fix it and run again."
    )
    return False


def _restarted(state, host, cli: str, wait: float, changes: RunChanges, why: str) -> bool:
    if not _wait_running(state, host, cli, wait, changes):
        return False
    logger.warning(
        f"{host.print_prefix}Asterisk was restarted, not reloaded: {why}, and it applies "
        "sorcery.conf (where PJSIP reads the phones and the claimed numbers from) only when it "
        "starts. Calls in progress were cut; the phones' registrations come back from its database."
    )
    return True


@operation(is_idempotent=False)
def config_live(
    cli: str,
    expected: LiveConfig,
    wait: float = 15,
    start: str = "systemctl start asterisk.service",
    state=UNREAD,
    changes: RunChanges | None = None,
    restart: str = "systemctl restart asterisk.service",
    restart_why: str = "",
):
    """
    Reload Asterisk unless it already serves this config, then prove it took the new one:
    the reload commands print success even for a rejected config, so televoc reads the
    generation markers, the aors and the transport that Asterisk reports. An Asterisk that
    does not read the files `expected` names (it started with another sorcery.conf: an
    earlier televoc, a config written by hand) is restarted instead: a reload keeps the
    mapping it started with.

    + cli: the Asterisk CLI command (with -C)
    + expected: what Asterisk must report (generations, phone aors, bind address, files)
    + wait: seconds to wait for Asterisk to report it after the reload
    + start: the command that starts Asterisk again if it stops after the reload
    + state: Asterisk's state as the run's snapshot read it (without it: read now)
    + changes: gets `asterisk = True` when it reloaded
    + restart: the command that restarts Asterisk
    + restart_why: a reason to restart it even so (its sorcery.conf changes in this run)
    """
    if state is UNREAD:
        state = host.get_fact(AsteriskState, cli_command=cli, aors=expected.listed_aors)
    if state is not None and not config_mismatches(state, expected):
        host.noop(f"Asterisk already serves config generation {expected.generation}")
        return
    unread = expected.unread(state) if state is not None and state.running else []
    why = f"it did not read {', '.join(unread)}" if unread else restart_why
    if not pyinfra_state.is_executing and not probing():  # change detection (--dry, --diff, the prompt)
        reasons = "; ".join(config_mismatches(state, expected)) if state is not None else "not read"
        logger.info(f"{host.print_prefix}will {'restart' if why else 'reload'} Asterisk ({reasons})")
    changes = changes if changes is not None else RunChanges()
    if why:
        yield StringCommand(restart)
        yield FunctionCommand(_restarted, (cli, wait, changes, why), {})
    else:
        yield StringCommand(cli, "-rx", "'core reload'")
    yield FunctionCommand(_confirm, (cli, expected, wait, start, changes), {})


def _verify(
    state,
    host,
    cli: str,
    phones: tuple[Account, ...],
    wait: float,
    mode: str,
    changes: RunChanges,
    table: str,
    csv_path: str,
    snapshot_state,
    groups=(),
    trunk=None,
    peers=(),
    claimable=None,
    bases=(),
) -> bool:
    # Venues whose own host failed in this run (unreachable, say): their failure is named
    # there; here they are a warning, so that a venue that is down fails alone.
    down = {h.data.get("televoc_venue") for h in state.failed_hosts}

    shown: dict[str, str | None] = {"line": None}

    def progress(current, left: float) -> None:
        if not current.running:
            return
        waiting = len(problems_of(current))
        line = f"{len(phones) - waiting} of {len(phones)} phones ready, waiting up to {max(0, left):.0f} s"
        if line.split(",")[0] != (shown["line"] or "").split(",")[0]:
            logger.info(f"{host.print_prefix}{line}")
            shown["line"] = line

    judged: list = []  # [the last state judged, its registration problems]: judged once

    def problems_of(s) -> list:
        if not judged or judged[0] is not s:
            judged[:] = [s, registration_problems(s, phones, changes.credentials)]
        return judged[1]

    def done(s) -> bool:
        if not s.running:
            return True
        return (
            not problems_of(s)
            and (trunk is None or trunk_problem(s, *trunk) is None)
            and all(venue in down for venue, _ in peer_problems(s, peers))
        )

    # Nothing touched Asterisk or the phones in this run: what the snapshot read is current.
    first = None if changes.asterisk else snapshot_state
    current = poll(
        cli,
        wait if mode == "strict" else 0,
        done,
        progress,
        first=first,
        aors=pbxcli.listed_aors(len(phones), claimable is not None),
    )
    if current is None or not current.running:
        logger.error(
            f"{host.print_prefix}Asterisk is not running (it stopped during the run): no phone "
            "can register. Run again: the run starts it."
        )
        return False
    problems = problems_of(current)
    written = _write_csv(current, phones, csv_path)
    if table == "true" or (table == "auto" and len(phones) <= TABLE_AUTO_MAX):
        for line in registration_table(current, phones).splitlines():
            logger.info(line)
    trunk_trouble = trunk_problem(current, *trunk) if trunk is not None else None
    if trunk is not None and trunk_trouble is None:
        logger.info(f"{host.print_prefix}the trunk {trunk[1]} is registered")
    troubled = dict(peer_problems(current, peers))
    for _aor, venue in peers:
        if venue not in troubled:
            logger.info(f"{host.print_prefix}venue {venue}'s PBX answers")
    peer_trouble = []
    for venue, why in troubled.items():
        if venue in down or mode == "report":
            logger.warning(
                f"{host.print_prefix}venue {venue}'s PBX {why}"
                + (" (its own host failed in this run)" if venue in down else "")
            )
        else:
            peer_trouble.append(f"venue {venue}'s PBX {why}: calls to and from it fail until it answers")
    dead = unanswerable_groups(groups, problems)
    if dead:  # a group nobody can answer is a problem on buildup day, even in report mode
        logger.warning(f"{host.print_prefix}{len(dead)} of {len(groups)} groups have no phone that can answer now:")
        for line in wrapped("groups", dead):
            logger.warning(line)
    if trunk_trouble is not None and mode == "report":
        logger.warning(f"{host.print_prefix}{trunk_trouble}")
    elif trunk_trouble is not None:
        peer_trouble.append(f"{trunk_trouble}; calls to and from outside fail until it is registered")
    # What fails the run comes last: the crew reads the end of the output first.
    if claimable is not None:
        registered = claimed_registered(current, claimable)
        logger.info(
            f"{host.print_prefix}claimed numbers (self-service database, not waited for): {len(registered)} registered"
            + (f": {', '.join(registered[:20])}{' ...' if len(registered) > 20 else ''}" if registered else "")
        )
    if not problems:
        logger.info(f"{host.print_prefix}all {len(phones)} phones are registered and answer (every phone: {written})")
        for line in peer_trouble:
            logger.error(f"{host.print_prefix}{line}; the phones call each other meanwhile")
        return not peer_trouble or mode == "report"
    lines = summary(current, phones, problems, more=f" (all of them: {written})", bases=bases)
    if mode == "report":
        logger.warning(f"{host.print_prefix}{lines[0]} (televoc_verify=report: not failing); not ready:")
        for line in lines[1:]:
            logger.warning(line)
        return True
    for line in peer_trouble:
        logger.error(f"{host.print_prefix}{line}")
    logger.error(f"{host.print_prefix}{lines[0]} after {wait:.0f} s; not ready:")
    for line in lines[1:]:
        logger.error(line)
    logger.error(
        f"{host.print_prefix}plug them in / check their settings and run again, or pass "
        "--data televoc_verify=report during buildup (every phone: " + written + ")"
    )
    return False


TABLE_AUTO_MAX = 50  # phones up to which the whole table is printed without asking


def _write_csv(state, phones, path: str) -> str:
    """The whole table as CSV on the client (a crew opens it in a spreadsheet); its path."""
    import os

    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(table_csv(state, phones))
    except OSError as e:
        return f"not written: {e}"
    return path


@operation(is_idempotent=False)
def phones_registered(
    cli: str,
    phones,
    wait: float = 30,
    mode: str = "strict",
    changes: RunChanges | None = None,
    table: str = "auto",
    csv_path: str = "reports/phones.csv",
    state=None,
    groups=(),
    trunk=None,
    peers=(),
    claimable=None,
    bases=(),
):
    """
    Wait up to `wait` seconds until every phone's aor has a reachable contact, print a table
    (phone, extension, contact, status, RTT), and fail naming every phone that is not ready
    (unless mode is "report"). One remote command per poll, whatever the number of phones.

    + cli: the Asterisk CLI command (with -C)
    + phones: the directory's accounts
    + wait: seconds to wait for registrations
    + mode: "strict" or "report"
    + changes: what this run changed (phones whose password changed get that as their reason)
    + table: "auto" prints the whole table up to 50 phones, "true" always, "false" never
    + csv_path: where the whole table is written on the client (CSV)
    + state: Asterisk's state as the run's snapshot read it: used when nothing in this run
      touched Asterisk or the phones (saves a remote command); None: read now
    + groups: (group, the phones it rings): groups none of whose phones is ready are listed
    + trunk: (registration name, label) of the upstream trunk, which must be Registered
    + peers: (aor, venue) of the other venues' PBXes, which must answer qualify (a venue whose
      own host failed in this run is only a warning: it fails alone)
    + claimable: (first, last) of the claimable range: the claimed numbers Asterisk serves
      are counted apart (a participant's phone is not waited for)
    + bases: (name, label) of the DECT bases: a base none of whose handsets is ready is one
      line ('base dect-hall (10.23.0.41, snomM700) offline: 33 handsets')
    """
    yield FunctionCommand(
        _verify,
        (
            cli,
            tuple(phones),
            float(wait),
            mode,
            changes or RunChanges(),
            table,
            csv_path,
            state,
            tuple(groups),
            trunk,
            tuple(peers),
            claimable,
            tuple(bases),
        ),
        {},
    )


def remove_stored_contacts(host, cli: str, keys: tuple) -> bool:
    """Delete `keys` ('contact/<aor>;@<hash>') from Asterisk's registrar database, in one
    remote command, each confirmed from what the CLI prints. For FunctionCommands."""
    # The CLI takes double quotes around an argument; keys hold only [A-Za-z0-9_.-;@/]. The
    # keys go up as a file: thousands of them do not fit on one command line.
    script = f'while IFS= read -r key; do {cli} -rx "database del registrar \\"$key\\""; done'
    _, lines = run_per_line(host, list(keys), "/var/lib/televoc/.contacts-to-remove", script)
    removed = sum("Database entry removed" in line for line in lines)
    if removed != len(keys):
        # A phone may unregister (or its contact expire) between the read and the removal:
        # only a contact still there is a failure.
        current = host.get_fact(AsteriskState, cli_command=cli)
        there = {f"contact/{r.aor};@{r.hash}" for r in current.registrations} if current is not None else set(keys)
        still = [key for key in keys if key in there]
        if still:
            logger.error(
                f"{host.print_prefix}removed {removed} of {len(keys)} contacts; still there: " + " ".join(still)[:300]
            )
            return False
    logger.info(f"{host.print_prefix}removed {removed} contacts of the event")
    return True


def _register_again(host, cli: str) -> bool:
    """The trunk's account changed: unregister and register again with the new one (its
    registration made with the old one stays valid at the upstream until it expires). Both
    commands print nothing when they are taken; an error names the registration."""
    q = shlex.quote
    script = f"{cli} -rx {q('pjsip send unregister ' + TRUNK)} 2>&1; {cli} -rx {q('pjsip send register ' + TRUNK)} 2>&1"
    ok, output = host.run_shell_command(StringCommand("sh", "-c", q(script)), print_output=False)
    lines = [line for line in output.stdout_lines if line.strip()]
    if not ok or lines:
        logger.error(
            f"{host.print_prefix}the trunk's account changed, but registering it again failed: " + " ".join(lines)[:300]
        )
        return False
    logger.info(f"{host.print_prefix}the trunk's account changed: it registers again with the new one")
    return True


def _drop_stale(state, host, cli: str, path: str, fingerprints: str, changed: tuple, changes: RunChanges) -> bool:
    if changed:
        changes.asterisk = True
    keys: tuple[str, ...] = ()
    if changed:  # (no phone's password changed: no registration to look for)
        current = host.get_fact(AsteriskState, cli_command=cli)
        if current is not None and current.running:
            names = set(changed)
            keys = tuple(f"contact/{r.aor};@{r.hash}" for r in current.registrations if r.aor in names)
    if keys and not remove_stored_contacts(host, cli, keys):
        return False
    if TRUNK in changed and not _register_again(host, cli):
        return False
    changes.credentials[:] = [name for name in changed if name != TRUNK]
    for name in changes.credentials:
        logger.info(
            f"{host.print_prefix}{name}: password changed: its registration made with the old one "
            "is dropped; it must register again with the new one"
        )
    return put_file_atomically(
        host, fingerprints.encode(), path, "600", unchanged="The next run drops these registrations again."
    )


@operation(is_idempotent=False)
def stale_registrations_dropped(cli: str, path: str, fingerprints: str, changes: RunChanges, recorded=UNREAD):
    """
    Drop the registrations of phones whose password changed: Asterisk keeps a contact made
    with the old password until the phone re-registers, and a phone not provisioned by
    televoc keeps trying the old one. Run after the new config is live; records the
    fingerprints (`path`, root 0600) for the next run.

    + cli: the Asterisk CLI command
    + path: the fingerprints recorded on the PBX
    + fingerprints: credential_fingerprints() of the directory
    + changes: gets the phones whose password changed (for the verification's reasons)
    + recorded: the fingerprints' FileDigest as the run's snapshot read it (None: absent)
    """
    if recorded is UNREAD:
        recorded = host.get_fact(FileDigests, paths=(path,)).get(path)
    wanted = sha256(fingerprints)
    if recorded is not None and recorded.sha256 == wanted:
        host.noop("no phone's password changed")
        return
    # no fingerprints recorded yet: no phone had a registration with televoc's credentials
    key = ("credentials", host.name, path, recorded.sha256 if recorded is not None else None, wanted)
    if key not in _worked_out:
        _worked_out[key] = tuple(changed_credentials(text_as_found(host, path, recorded), fingerprints))
    changed = _worked_out[key]
    yield FunctionCommand(_drop_stale, (cli, path, fingerprints, changed, changes), {})


# What phones_accounted and stale_registrations_dropped worked out from the PBX's record and
# this run's, by the digests of both: once per run, though pyinfra runs their decision up to
# three times (at 10,000 phones each parse and comparison took about 0.1 s).
_worked_out: dict[tuple, Any] = {}


def _log_lines(host, lines: list[str], before: str = "") -> None:
    """Each of `lines` on its own line of the run's output, in one log record: the text is
    that of one record per line (pyinfra's formatter indents a record by four spaces; the
    lines after the first are indented here), and 10,000 records took 0.1 s."""
    if lines:
        logger.info("\n    ".join(f"{host.print_prefix}{before}{line}" for line in lines))


def _accounted(state, host, lines: list[str]) -> bool:
    _log_lines(host, lines)
    return True


@operation(is_idempotent=False)
def phones_accounted(path: str, summary: str, new: dict, told=(), recorded=UNREAD):
    """
    Say, per phone, what this run adds, removes or changes (which fields; a password only as
    "password") and which phones it tells to fetch their settings: before applying (pyinfra's
    change detection: --dry, --diff, or the prompt) and while applying.

    + path: the summary the last run recorded on the PBX (root 0600; written by event_served)
    + summary: this run's summary text (roles.event.changes.summary_text)
    + new: this run's summary (roles.event.changes.summary)
    + told: the phones this run tells to fetch their settings
    + recorded: the summary's FileDigest as the run's snapshot read it (None: absent)
    """
    if recorded is UNREAD:
        recorded = host.get_fact(FileDigests, paths=(path,)).get(path)
    wanted = sha256(summary)
    if recorded is not None and recorded.sha256 == wanted and not told:
        host.noop("no phone changed")
        return
    key = ("account", host.name, path, recorded.sha256 if recorded is not None else None, wanted, tuple(told))
    if key not in _worked_out:
        _worked_out[key] = account(parse_summary(text_as_found(host, path, recorded)), new, tuple(told))
    lines = _worked_out[key]
    if not lines:
        host.noop("no phone changed")
        return
    if not pyinfra_state.is_executing and not probing():  # change detection (--dry, --diff, the prompt)
        _log_lines(host, lines, "will change: ")
    yield FunctionCommand(_accounted, (lines,), {})


def _bridge(state, host, path: str, secrets: HiddenValue) -> bool:
    lines = host.get_fact(TextFile, path=path)
    if lines is None:  # gone since the snapshot: nothing runs that could lose a password
        return True
    old = "".join(f"{line}\n" for line in lines)
    merged = bridged(old, secrets.unmask())
    if merged == old:
        return True
    return put_file_atomically(
        host, merged.encode(), path, "640", group="asterisk",
        unchanged="NixOS was not switched: Asterisk keeps serving its current config and the phones stay registered.",
    )  # fmt: skip


@operation(is_idempotent=False)
def passwords_bridged(path: str, secrets: HiddenValue, final_sha: str, current=UNREAD):
    """
    Before NixOS switches to a new config: the passwords file holds every account of the
    config Asterisk runs and of the new one (roles.asterisk.render.bridged), so that an
    Asterisk that (re)starts at any moment of the run, or after a run that failed halfway,
    loads no account without its password. event_served writes this run's file afterwards.

    + path: the passwords file (root:asterisk 0640)
    + secrets: HiddenValue of this run's passwords file
    + final_sha: its sha256 (the file already is this run's: nothing to bridge)
    + current: the file's FileDigest as the run's snapshot read it (None: no file yet)
    """
    if current is UNREAD:
        current = host.get_fact(FileDigests, paths=(path,)).get(path)
    if current is None:
        host.noop("no passwords file yet: no config runs that could lose an account's password")
        return
    if current.sha256 == final_sha:
        host.noop(f"{path} is already this run's")
        return
    yield FunctionCommand(_bridge, (path, secrets), {})
