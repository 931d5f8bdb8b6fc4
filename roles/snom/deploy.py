"""The snom role's steps, as pyinfra deploys: provisioning, resync, adopt, teardown.

from roles import snom
# `provisioning`: the run plan's snom.Provisioning (roles/plan.py): the server the NixOS
# module runs and the files it serves
published = snom.publication(directory, provisioning, snapshot)   # who is told, pure
snom.provisioning_published(directory, provisioning, snapshot, published)
snom.changed_phones_resynced(directory, snapshot, published)  # NOTIFY those whose settings changed
snom.provisioning_checked(directory, provisioning, snapshot)  # what the server saw
snom.phones_adopted(directory)                  # adopt.py: setting_server over the web

record = snom.teardown_started(directory, snapshot)   # teardown: who still holds credentials
outcome = snom.Outcome()                        # ... what this run proves
snom.phones_wiped(directory, provisioning, record, outcome, snapshot)  # the wiped profiles
snom.teardown_judged(record, outcome)
"""

from __future__ import annotations

import json
import posixpath
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote

from pyinfra import host
from pyinfra.api import HiddenValue
from pyinfra.api.exceptions import FactProcessError

from roles.event import Directory
from roles.shared import pbxfacts, runs
from roles.shared.clock import utc_stamp
from roles.shared.files import UNREAD, managed_file, paths_absent
from roles.shared.leftovers import Leftovers
from roles.shared.names import (
    NOTIFY_CHECK_SYNC,
    NOTIFY_CHECK_SYNC_REBOOT,
    PROVISIONING_CONTROL,
    PROVISIONING_SERVICE,
    PROVISIONING_USER,
)
from roles.shared.ops import as_needed, deploy
from roles.shared.pbxcli import PbxState
from roles.shared.pbxfacts import AsteriskState
from roles.shared.settings import (
    Setting,
    SettingError,
    absolute_path,
    boolean,
    declare,
    defaults,
    names,
    read,
    seconds,
)
from roles.shared.snapshot import NAMES, Snapshot

from . import bases, operations
from .dect import settings_file
from .facts import MISSING, JsonFile, ProvisioningManifest
from .operations import changed_phones, directory_changed
from .render import PROVISIONING_DIR, Provisioning, file_name, provisioning_url, with_participants_wiped
from .teardown import Outcome, TeardownRecord, merged, participants_pending, unknown_names
from .web import WebRequest

SETTINGS = declare(
    Setting(
        "snom__provisioning_dir",
        PROVISIONING_DIR,
        "Where the deploy publishes the phones' settings for the provisioning server (root:televoc-provisioning 0640).",
        absolute_path,
    ),
    Setting(
        "snom__pending_path",
        "/var/lib/televoc/notify-pending",
        "The list of phones whose settings changed and that still have to be told to "
        "fetch them (an interrupted run leaves it for the next one).",
        absolute_path,
    ),
    Setting(
        "snom__teardown_record",
        "/var/lib/televoc-teardown/record.json",
        "Teardown's record of the phones it has not yet proven clean (kept on the PBX from the first teardown on).",
        absolute_path,
    ),
    Setting(
        "snom__base_fetch_wait",
        120,
        "How long a deploy waits for the DECT bases it told (check-sync) to fetch their new settings (seconds).",
        seconds,
    ),
    Setting(
        "snom__wipe_wait", 60, "How long teardown waits for told phones to fetch the wiped profile (seconds).", seconds
    ),
    Setting(
        "televoc_factory_reset",
        False,
        "teardown: true also resets each phone that still holds credentials to factory "
        "settings over its web interface, at its recorded address.",
        boolean,
    ),
    Setting(
        "televoc_reset_by_hand",
        "",
        "teardown: the phones the crew reset by hand, comma-separated (or all): recorded as clean, with the time.",
        names,
    ),
    Setting(
        "televoc_adopt",
        "all",
        "adopt.py: the phones to adopt, comma-separated names, or all (every phone with mac and address).",
        names,
    ),
    Setting(
        "televoc_rearm",
        "",
        "deploy: phones (and DECT bases) whose settings the provisioning server offers again although they "
        "fetched them already, comma-separated (or all).",
        names,
    ),
    Setting(
        "televoc_provisioning_unlock",
        False,
        "deploy: true lifts the provisioning server's lock after too many unknown MACs and forgives the "
        "addresses it refuses for sweeping (find the guessing hosts first; the lock alone: touch "
        "/var/lib/televoc-provisioning/unlock on the PBX).",
        boolean,
    ),
)
ALL_SETTINGS = (*SETTINGS, *pbxfacts.SETTINGS, *runs.SETTINGS)
DATA_DEFAULTS = defaults(ALL_SETTINGS)
FACTORY_RESET = "/advanced_update.htm?reset=Reset"
REBOOT = "/advanced_update.htm?reboot=Reboot"


def _here(directory: Directory, names: tuple[str, ...]) -> tuple[str, ...]:
    """`names` without the phones of other venues (with venues, each PBX host takes the names
    of its own venue from a `--data` list given to the whole run)."""
    if directory.venue is None:
        return names
    elsewhere = {name for name, _ in directory.venue.remote}
    return tuple(n for n in names if n not in elsewhere)


def _chosen(directory: Directory, wanted: tuple[str, ...], setting: str, need_address: bool = False):
    provisioned = {a.name: a for a in directory.provisioned}
    if wanted == ("all",):
        return [a for a in directory.provisioned if a.address or not need_address]
    wanted = _here(directory, wanted)
    unknown = [n for n in wanted if n not in provisioned]
    if unknown:
        raise SettingError(
            f"--data {setting}: not a provisioned phone (with mac and model) of the directory: {', '.join(unknown)}"
        )
    chosen = [provisioned[n] for n in wanted]
    missing = [a.name for a in chosen if need_address and not a.address]
    if missing:
        raise SettingError(f"--data {setting}: no address in phones.yml: {', '.join(missing)}")
    return chosen


def control(directory: Directory) -> dict:
    """What this run tells the provisioning server (control.json): an unlock and re-arms, each
    with a token it has not seen (televoc_provisioning_unlock, televoc_rearm). Made once per
    run, with the run's plan (roles/plan.py)."""
    settings = read(ALL_SETTINGS)
    told: dict = {}
    if settings.televoc_provisioning_unlock:
        told["unlock"] = secrets.token_hex(8)
    wanted = settings.televoc_rearm
    # DECT bases by name too (their settings file is named by their MAC like a phone's);
    # "all" re-arms every provisioned phone and every base
    bases = {b.name: b for b in directory.bases}
    chosen_bases = list(bases.values()) if wanted == ("all",) else [bases[n] for n in wanted if n in bases]
    phones = wanted if wanted == ("all",) else tuple(n for n in wanted if n not in bases)
    rearm = _chosen(directory, phones, "televoc_rearm") if phones else []
    macs = [file_name(a)[:-4] for a in rearm] + [settings_file(b)[:-4] for b in chosen_bases]
    if macs:
        told["rearm"] = {mac: secrets.token_hex(8) for mac in macs}
    return told


@dataclass
class Publication:
    """What provisioning_published put up in this run: the files, and the phones whose file
    changed (to be told by changed_phones_resynced)."""

    files: dict = field(default_factory=dict, repr=False)
    digests: dict = field(default_factory=dict, repr=False)  # file name -> sha256 (Provisioning.digests)
    live: object = field(default=UNREAD, repr=False)  # the published manifest as the snapshot read it
    changed: list[str] = field(default_factory=list)
    pending: list[str] | None = None  # left by an earlier run (None: no pending file)
    # The directory changed and with it every provisioned phone's file (its tbook): the run
    # says so once ("the directory changed: N provisioned phones resync"), not phone by phone.
    directory_resync: bool = False

    @property
    def told(self) -> tuple[str, ...]:
        """The phones this run tells to fetch their settings, by name (those registered get a
        NOTIFY); when the directory changed, every provisioned phone is told and the run says
        so in one line instead (changed_phones_resynced), so only those pending are named."""
        if self.directory_resync:
            return tuple(dict.fromkeys(self.pending or []))
        return tuple(dict.fromkeys([*(self.pending or []), *self.changed]))


def _paths(settings):
    """(the manifest of what is published, the control file the server reads)."""
    return (
        posixpath.join(posixpath.dirname(settings.snom__pending_path), "provisioning.manifest"),
        f"{settings.snom__provisioning_dir}/{PROVISIONING_CONTROL}",
    )


def snapshot_paths(settings) -> tuple[list[str], list[str]]:
    """What the run's one read of the PBX (roles/pbx.py) reads for this role's steps: the
    digests of the control file and the teardown record; the texts of the manifest, the
    pending list (its phone names only), the server's state and the teardown record."""
    manifest, control_path = _paths(settings)
    return (
        [control_path, settings.snom__teardown_record],
        [
            manifest,
            NAMES + settings.snom__pending_path,
            f"/var/lib/{PROVISIONING_SERVICE}/state.json",
            settings.snom__teardown_record,
        ],
    )


def _live_manifest(snapshot, path: str):
    lines = snapshot.text(path)
    return ProvisioningManifest().process(lines if lines is not None else [MISSING])


def _pending(snapshot, path: str):
    lines = snapshot.text(NAMES + path)
    return None if lines is None else list(dict.fromkeys(line.strip() for line in lines if line.strip()))


def _and_bases(directory: Directory) -> str:
    """' (and of 2 DECT bases)' for the step's name; '' without bases."""
    count = len(directory.bases)
    return f" (and of {count} DECT base{'' if count == 1 else 's'})" if count else ""


def _published(directory: Directory, publication: Publication, settings, snapshot, name: str) -> Publication:
    manifest_path, _ = _paths(settings)
    live = {}  # what the snapshot says is published (publication() parsed it already)
    if snapshot is not None:
        live["live"] = publication.live if publication.live is not UNREAD else _live_manifest(snapshot, manifest_path)
    as_needed(snapshot)(
        operations.provisioning_published,
        name=name,
        directory=settings.snom__provisioning_dir,
        files=HiddenValue(publication.files),
        phones=directory.provisioned,
        pending_path=settings.snom__pending_path,
        group=PROVISIONING_USER,
        bases=directory.bases,
        digests=publication.digests or None,
        **live,
    )
    return publication


def publication(directory: Directory, provisioning: Provisioning, snapshot: Snapshot | None = None) -> Publication:
    """Pure: the files `provisioning` publishes (every provisioned phone's settings, or its
    wiped profile) and, with the run's snapshot, the phones whose file differs from what is
    published and those still pending from an earlier run: the phones this run tells to
    fetch their settings."""
    settings = read(ALL_SETTINGS)
    result = Publication(files=provisioning.files, digests=provisioning.digests)
    if snapshot is not None:
        manifest_path, _ = _paths(settings)
        live = result.live = _live_manifest(snapshot, manifest_path)
        result.changed = changed_phones(live, result.digests, directory.provisioned)
        pending = _pending(snapshot, settings.snom__pending_path)
        names = {a.name for a in directory.provisioned}
        # Only phones of this event are told; phones_told_to_resync names the others it drops.
        result.pending = None if pending is None else [n for n in pending if n in names]
        result.directory_resync = (
            not provisioning.wiped
            and directory_changed(live, result.digests)
            and len(result.changed) == len(directory.provisioned)
        )
    return result


@deploy("Provisioning", data_defaults=DATA_DEFAULTS)
def provisioning_published(
    directory: Directory,
    provisioning: Provisioning,
    snapshot: Snapshot | None = None,
    published: Publication | None = None,
) -> Publication:
    """
    The provisioning server offers every provisioned phone its settings; the phones whose
    file changed are recorded for a resync. A teardown record from an earlier event is
    dropped (the phones get credentials again). With televoc_rearm / televoc_provisioning_unlock
    (`provisioning.control`), the server is told to offer settings again / to lift its lock.
    `snapshot`: the run's one read of the PBX (roles/pbx.py), if taken; `published`: what
    publication() worked out for this run (worked out here when not given).
    """
    settings = read(ALL_SETTINGS)
    published = published if published is not None else publication(directory, provisioning, snapshot)
    _published(
        directory,
        published,
        settings,
        snapshot,
        f"Provisioning files of {len(directory.provisioned)} snom phones are published{_and_bases(directory)}",
    )
    _, control_path = _paths(settings)
    if provisioning.control:
        as_needed(snapshot)(
            managed_file,
            name="The provisioning server is told to unlock / to offer settings again",
            path=control_path,
            content=json.dumps(provisioning.control, sort_keys=True) + "\n",
            mode="640",
            group=PROVISIONING_USER,
            **({} if snapshot is None else {"current": snapshot.digests.get(control_path)}),
        )
    record = settings.snom__teardown_record
    as_needed(snapshot)(
        paths_absent,
        name="No teardown record of an earlier event is left",
        paths=[record],
        present=None if snapshot is None else [p for p in [record] if snapshot.digests.get(p)],
    )
    return published


@deploy("Provisioning", data_defaults=DATA_DEFAULTS)
def changed_phones_resynced(
    directory: Directory,
    snapshot=None,
    publication: Publication | None = None,
    reboot: bool = False,
    changes=None,
    participants: tuple[str, ...] = (),
):
    """The phones whose settings changed are told to fetch them (and, with `reboot`, to
    reboot): those left pending by an earlier run and those this run's `publication`
    changed; at teardown also `participants` (self-service: the numbers participants'
    snoms hold). `changes`: the run's RunChanges (a NOTIFY touches the phones)."""
    settings = read(ALL_SETTINGS)
    known = (
        {}
        if snapshot is None
        else {
            "pending": _pending(snapshot, settings.snom__pending_path),
            "also": (*(publication.changed if publication else ()), *participants),
        }
    )
    if publication is not None and publication.directory_resync:
        known["directory_resync"] = len(publication.changed)
    as_needed(snapshot)(
        operations.phones_told_to_resync,
        name="Provisioned phones are told to fetch the wiped profile and reboot"
        if reboot
        else "Phones whose settings changed are told to fetch them",
        cli=settings.asterisk__cli,
        pending_path=settings.snom__pending_path,
        phones=[*(a.name for a in directory.provisioned), *participants],
        notify=NOTIFY_CHECK_SYNC_REBOOT if reboot else NOTIFY_CHECK_SYNC,
        changes=changes,
        **known,
    )


def base_addresses(directory: Directory, provisioning: Provisioning, snapshot: Snapshot | None) -> dict[str, str]:
    """DECT base name -> the address that last fetched its settings, as the run's snapshot
    read the provisioning server's state (empty without one): for the verification's line
    about a base that is offline."""
    server = provisioning.server
    if server is None or snapshot is None or not directory.bases:
        return {}
    return bases.last_fetched_from(directory, snapshot.text_json(server.state_path))


@deploy("Provisioning", data_defaults=DATA_DEFAULTS)
def bases_resynced(directory: Directory, provisioning: Provisioning, snapshot: Snapshot | None = None, changes=None):
    """The DECT bases that have not fetched the settings published now are told to (check-sync
    through one of their registered handsets), and the deploy waits until each told base
    fetched them (the provisioning server's state); the others are named with what to do.
    `changes`: the run's RunChanges (a told base reboots)."""
    _bases_told(directory, provisioning, snapshot, read(ALL_SETTINGS), changes=changes)


def _bases_told(
    directory: Directory, provisioning: Provisioning, snapshot, settings, teardown: bool = False, changes=None
):
    """bases_resynced's steps; at `teardown` the bases are told to fetch their wiped settings
    and not waited for here (wiped_profiles_fetched waits for every phone and base)."""
    server = provisioning.server
    if server is None or not directory.bases:
        return
    pbx: PbxState | None
    if snapshot is not None:
        found, pbx = snapshot.text_json(server.state_path), snapshot.asterisk
    else:
        found = host.get_fact(JsonFile, path=server.state_path)
        pbx = host.get_fact(AsteriskState, cli_command=settings.asterisk__cli)
    stale = bases.out_of_date(directory, provisioning.files, found, pbx)
    if not teardown:  # the teardown report names every base not proven clean
        bases.bases_untold(
            name=runs.check("The DECT bases nobody can tell are named"),
            bases=stale,
            secondaries=frozenset(b.name for b in directory.bases if not b.holds_accounts),
        )
    bases.bases_resynced(
        name="DECT bases with a handset registered are told to fetch their wiped settings and reboot"
        if teardown
        else "The DECT bases whose settings changed are told, and fetch them",
        cli=settings.asterisk__cli,
        bases=stale,
        notify=NOTIFY_CHECK_SYNC_REBOOT,
        state_path=server.state_path,
        list_path=posixpath.join(posixpath.dirname(settings.snom__pending_path), ".notify-bases"),
        wait=None if teardown else settings.snom__base_fetch_wait,
        mode=settings.televoc_verify,
        changes=changes,
    )


@deploy("Provisioning", data_defaults=DATA_DEFAULTS)
def provisioning_checked(directory: Directory, provisioning: Provisioning, snapshot: Snapshot | None = None):
    """What the provisioning server saw: fetches from unexpected addresses, sources refused
    for sweeping, other refused sources, its lock (which fails the run unless
    televoc_verify=report)."""
    server = provisioning.server
    if server is None:
        return
    settings = read(ALL_SETTINGS)
    operations.provisioning_checked(
        name=runs.check("The provisioning server gave settings only to the phones (its state)"),
        state_path=server.state_path,
        cli=settings.asterisk__cli,
        directory=directory,
        mode=settings.televoc_verify,
        control=provisioning.control,
        snapshot=snapshot,
        unlock_path=server.unlock_path,
    )


@deploy("Adopt", data_defaults=DATA_DEFAULTS)
def phones_adopted(directory: Directory):
    """Phones that cannot get the provisioning URL by DHCP get it over their web interface,
    then reboot, fetch their settings and register."""
    settings = read(ALL_SETTINGS)
    phones = _chosen(directory, settings.televoc_adopt, "televoc_adopt", need_address=True)
    setting_server = quote(provisioning_url(directory), safe="")
    paths = (f"/dummy.htm?settings=save&setting_server={setting_server}", REBOOT)
    user = directory.event.provisioning.web_user
    operations.phone_web_requests(
        name=f"{len(phones)} phones fetch their settings from the PBX",
        cli=settings.asterisk__cli,
        requests=[WebRequest(a.name, a.address, paths, user, a.web_password_before) for a in phones],
        requests_path="/var/lib/televoc/requests/adopt.curl",
        what="adopted (setting_server set, rebooting)",
    )


@deploy("Phones forget the event", data_defaults=DATA_DEFAULTS)
def teardown_started(directory: Directory, snapshot=None, participants=()) -> TeardownRecord:
    """
    The record of which phones still hold the event's credentials, kept on the PBX: what
    earlier teardowns proved, plus every phone of the directory, with the address each was
    registered from, read before anything is removed (`snapshot`: the run's one read), and
    every participant's snom (`participants`: (number, MAC), from the self-service database).
    """
    settings = read(ALL_SETTINGS)
    path = settings.snom__teardown_record
    try:
        found = host.get_fact(JsonFile, path=path) if snapshot is None else snapshot.text_json(path)
        existing = TeardownRecord.from_json(found) if found is not None else None
    except (FactProcessError, ValueError) as e:
        raise SettingError(f"{path}: {e}; teardown keeps it and stops (move it away to start over)") from None
    state = host.get_fact(AsteriskState, cli_command=settings.asterisk__cli) if snapshot is None else snapshot.asterisk
    now = utc_stamp()
    record = merged(existing, directory, state, now, participants)
    by_hand = _here(directory, settings.televoc_reset_by_hand)
    unknown = unknown_names(record, by_hand)
    if unknown:
        raise SettingError(f"--data televoc_reset_by_hand: not a phone of the event: {', '.join(unknown)}")
    managed_file(
        name="The teardown record holds every phone and where it was last seen (root 0600)",
        path=path,
        content=record.to_json(),
        mode="600",
        dir_mode="700",
        **({} if snapshot is None else {"current": snapshot.digests.get(path)}),
    )
    return record


@deploy("Phones forget the event", data_defaults=DATA_DEFAULTS)
def phones_wiped(
    directory: Directory,
    provisioning: Provisioning,
    record: TeardownRecord,
    outcome: Outcome,
    snapshot: Snapshot | None = None,
):
    """
    Every phone that still holds the event's credentials is given a way to forget them: the
    provisioning server offers each provisioned phone a wiped profile (`provisioning`: the
    teardown plan's, whose files are the wiped profiles) and the registered ones
    are told to fetch it and reboot; with televoc_factory_reset, each one with a known
    address is also reset to factory settings over its web interface. `outcome` gets what
    is proven (a fetch of the wiped profile, a reset answered) and the crew's statements.
    """
    settings = read(ALL_SETTINGS)
    by_hand = _here(directory, settings.televoc_reset_by_hand)
    outcome.by_hand = tuple(record.pending) if by_hand == ("all",) else by_hand
    participants = participants_pending(record)  # number -> MAC: offered the wipe, told by number
    provisioning = with_participants_wiped(directory, provisioning, sorted(participants.values()))
    wiped_files = publication(directory, provisioning, snapshot)
    wiped = wiped_files.files
    _published(directory, wiped_files, settings, snapshot, "Provisioned phones are offered a wiped profile")
    changed_phones_resynced(directory, snapshot, wiped_files, reboot=True, participants=tuple(participants))
    _bases_told(directory, provisioning, snapshot, settings, teardown=True)  # their wiped settings
    if settings.televoc_factory_reset:
        user = directory.event.provisioning.web_user
        accounts = {a.name: a for a in directory.provisioned}
        operations.phone_web_requests(
            name="Phones that still hold credentials are reset to factory settings over their web interface",
            cli=settings.asterisk__cli,
            requests=[
                WebRequest(
                    name,
                    record.phones[name].address,
                    (FACTORY_RESET,),
                    user,
                    accounts[name].event_web_password if name in accounts else None,
                )
                for name in record.pending
                if record.phones[name].mac
                and not record.phones[name].base
                and not record.phones[name].participant  # the participant's own phone: never reset
                and name not in outcome.by_hand
            ],
            requests_path="/var/lib/televoc/requests/teardown.curl",
            what="reset to factory settings",
            outcome=outcome,
        )
    server = provisioning.server
    versions = {name[:-4].upper(): bases.version(text) for name, text in wiped.items() if name.endswith(".xml")}
    operations.wiped_profiles_fetched(
        name=runs.check("Phones that fetched the wiped profile are found (the provisioning server's state)"),
        state_path=server.state_path if server else "/nonexistent",
        record=record,
        outcome=outcome,
        wiped=versions,
        wait=settings.snom__wipe_wait,
    )


@deploy("Phones forget the event", data_defaults=DATA_DEFAULTS)
def teardown_judged(record: TeardownRecord, outcome: Outcome, leftovers: Leftovers | None = None):
    """Nobody is left to be told to resync; the record gets this run's proofs, and every
    phone that still holds the event's credentials is named: in `leftovers`, whose report
    fails the run, or (without it) by failing here."""
    settings = read(ALL_SETTINGS)
    paths_absent(name="No phone is left to be told to resync", paths=[settings.snom__pending_path])
    operations.teardown_judged(
        name="Every phone of the event forgot it",
        path=settings.snom__teardown_record,
        record=record,
        outcome=outcome,
        leftovers=leftovers,
    )
