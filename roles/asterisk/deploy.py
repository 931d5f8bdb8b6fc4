"""The asterisk role's steps, as pyinfra deploys: Asterisk serves a config, phones verified.

    from roles import asterisk
    asterisk.phones_accounted(config, snapshot, told)   # what changes, phone by phone
    asterisk.event_served(config, changes, snapshot)     # passwords, running, live, stale gone
    asterisk.phones_verified(config, changes, snapshot)  # every phone registered (or reported)

`config` is the rendered AsteriskConfig of the run's plan (roles/plan.py); NixOS puts its
files in place before event_served (roles/nixos). A teardown's config (render_teardown) has
nothing of the event; its steps:

    asterisk.trunk_withdrawn(config, snapshot, leftovers)        # un-REGISTER, confirmed
    asterisk.contacts_removed_before_stop(config, snapshot)      # televoc_teardown=stop only
    asterisk.event_removed(config, snapshot, leftovers)          # after the switch: reload, list
"""

from __future__ import annotations

import posixpath

from pyinfra import host
from pyinfra.api import HiddenValue

from roles.shared import names, pbxfacts, runs
from roles.shared.files import UNREAD, managed_file, paths_absent, sha256
from roles.shared.leftovers import Leftovers
from roles.shared.ops import as_needed, deploy
from roles.shared.pbxobjects import objects_script, parse_objects
from roles.shared.settings import Setting, absolute_path, choice, declare, defaults, read, seconds, text
from roles.shared.snapshot import Snapshot, current_of

from . import operations, removal
from .announcements import announcements_in_place
from .render import ANNOUNCEMENTS_NAME, SECRETS_PATH, AsteriskConfig, pins_path
from .report import RunChanges
from .teardown import Removal

# Beside the passwords: each phone's credential fingerprint of the last run (root 0600), and
# what each phone was (no password: a fingerprint), for the next run's account of changes.
CREDENTIALS_FILE = "credentials"
SUMMARY_FILE = "phones.json"
# Beside them after a teardown whose un-REGISTER the upstream did not confirm: the trunk and
# until when the upstream may hold its registration (root 0600; removed once expired).
UNCONFIRMED_FILE = "trunk-unregister.json"

SETTINGS = declare(
    Setting(
        "asterisk__secrets_path",
        SECRETS_PATH,
        "The file with the SIP passwords, outside the world-readable Nix store (root:asterisk 0640).",
        absolute_path,
    ),
    Setting(
        "asterisk__reload_wait",
        15,
        "How long to wait for Asterisk to start or to take a new config (seconds).",
        seconds,
    ),
    Setting(
        "asterisk__unregister_wait",
        10,
        "teardown: how long to wait for the upstream to confirm the trunk's un-REGISTER, that is "
        "that it dropped the event's contact (seconds).",
        seconds,
    ),
    Setting(
        "televoc_register_wait",
        30,
        "How long a strict run waits for every phone to register and answer before judging "
        "(seconds); a report run does not wait.",
        seconds,
    ),
    Setting(
        "televoc_table",
        "auto",
        "The table of every phone: auto prints it up to 50 phones, true always, false never "
        "(it is always written to televoc_report_dir).",
        choice("auto", "true", "false"),
    ),
    Setting(
        "televoc_report_dir",
        "reports",
        "Where on this machine each run writes every phone's state as <host>-phones.csv "
        "(relative to where pyinfra runs).",
        text,
    ),
    Setting(
        "televoc_teardown",
        "accounts",
        "teardown: accounts removes the event's accounts and keeps the PBX running; stop stops and disables Asterisk.",
        choice("accounts", "stop"),
    ),
)
ALL_SETTINGS = (*pbxfacts.SETTINGS, *runs.SETTINGS, *SETTINGS)


def beside_secrets(settings, name: str) -> str:
    """A file the asterisk role keeps beside the passwords (CREDENTIALS_FILE, SUMMARY_FILE)."""
    return posixpath.join(posixpath.dirname(settings.asterisk__secrets_path), name)


def snapshot_paths(settings) -> list[str]:
    """The files whose digests the run's one read of the PBX (roles/pbx.py) reads for this
    role's steps: the passwords, the rooms' PINs, the fingerprints and the summary beside
    them, and the manifest of the announcements' audio."""
    return [
        settings.asterisk__secrets_path,
        pins_path(settings.asterisk__secrets_path),
        beside_secrets(settings, CREDENTIALS_FILE),
        beside_secrets(settings, SUMMARY_FILE),
        beside_secrets(settings, ANNOUNCEMENTS_NAME + ".manifest"),
    ]


def snapshot_texts(settings) -> list[str]:
    """The files whose text the run's one read of the PBX reads for this role: the note of
    an unconfirmed un-REGISTER."""
    return [beside_secrets(settings, UNCONFIRMED_FILE)]


# The snapshot's listing of every object Asterisk serves (a teardown's: Snapshot.outputs).
OBJECTS = "asterisk objects"


def snapshot_commands(settings, config: AsteriskConfig) -> list[tuple[str, str]]:
    """What the run's one read of the PBX runs for this role besides Asterisk's state: for a
    teardown (`config.removal`), the listing of every object Asterisk serves."""
    if config.removal is None:
        return []
    return [(OBJECTS, objects_script(settings.asterisk__cli))]


def _running(op, settings, snapshot, changes: RunChanges, **aors) -> None:
    """Asterisk runs (started if not), in a buildup and in a teardown alike."""
    op(
        operations.running,
        name="Asterisk is running",
        cli=settings.asterisk__cli,
        start="systemctl start asterisk.service",
        wait=settings.asterisk__reload_wait,
        changes=changes,
        **aors,
        **({} if snapshot is None else {"state": snapshot.asterisk}),
    )


@deploy("PBX", data_defaults=defaults(ALL_SETTINGS))
def event_served(config: AsteriskConfig, changes: RunChanges | None = None, snapshot: Snapshot | None = None):
    """
    Make Asterisk serve `config`, whose files NixOS serves already: the SIP passwords outside
    the store, Asterisk running and proven to serve this config, no registration left that
    was made with a password that changed.

    + config: the rendered AsteriskConfig of the run's plan
    + changes: gets the phones whose password changed (their old registrations are dropped)
      and whether the run touched Asterisk
    + snapshot: the run's one read of the PBX (roles/pbx.py); without it, each step reads
      what it compares itself
    """
    settings = read(ALL_SETTINGS)
    changes = changes if changes is not None else RunChanges()
    secrets_path = config.secrets_path
    credentials = beside_secrets(settings, CREDENTIALS_FILE)
    op = as_needed(snapshot)
    op(
        managed_file,
        name="SIP passwords are in place outside the Nix store (root:asterisk 0640)",
        path=secrets_path,
        content=HiddenValue(config.secrets),
        mode="640",
        group="asterisk",
        dir_mode="750",
        unchanged="Asterisk was not reloaded: it keeps serving its current config and the phones stay registered.",
        **current_of(snapshot, secrets_path),
    )
    announcements = config.announcements
    op(
        announcements_in_place,
        name=(
            f"Announcements are in place ({len(announcements.files)}, root:asterisk 0640)"
            if announcements.files
            else "No announcement of an earlier run is left on the PBX"
        ),
        announcements=announcements,
        **current_of(snapshot, announcements.manifest_path),
    )
    _pins_in_place(op, config, snapshot)
    state = {} if snapshot is None else {"state": snapshot.asterisk}
    remapped = sorcery_changes(config, snapshot)
    _running(op, settings, snapshot, changes, aors=config.expected.listed_aors)
    op(
        operations.config_live,
        name=f"Asterisk serves config generation {config.generation}",
        cli=settings.asterisk__cli,
        expected=config.expected,
        wait=settings.asterisk__reload_wait,
        changes=changes,
        **state,
        **({"restart_why": remapped} if remapped else {}),
    )
    op(
        operations.stale_registrations_dropped,
        name="No phone stays registered with a password that changed",
        cli=settings.asterisk__cli,
        path=credentials,
        fingerprints=config.fingerprints,
        changes=changes,
        **({} if snapshot is None else {"recorded": snapshot.digests.get(credentials)}),
    )
    summary_path = beside_secrets(settings, SUMMARY_FILE)
    op(
        managed_file,
        name="The PBX records what each phone is now (for the next run's account of changes)",
        path=summary_path,
        content=config.summary_text,
        mode="600",
        group="asterisk",
        **current_of(snapshot, summary_path),
    )


def _pins_in_place(op, config: AsteriskConfig, snapshot: Snapshot | None) -> None:
    """The rooms' PINs file (confbridge.conf includes it), whole, before Asterisk reloads: a
    changed PIN changes the generation, so the reload that follows reads the new file (written
    atomically like the passwords: no half-written file). No room with a PIN: no file."""
    if config.pins:
        op(
            managed_file,
            name="The conference rooms' PINs are in place outside the Nix store (root:asterisk 0640)",
            path=config.pins_path,
            content=HiddenValue(config.pins),
            mode="640",
            group="asterisk",
            dir_mode="750",
            unchanged="Asterisk was not reloaded: its rooms keep their current PINs.",
            **current_of(snapshot, config.pins_path),
        )
    else:
        op(
            paths_absent,
            name="No PINs file is left: no room has a PIN",
            paths=[config.pins_path],
            **(
                {"present": [config.pins_path] if snapshot.digests[config.pins_path] else []}
                if snapshot is not None and config.pins_path in snapshot.digests
                else {}
            ),
        )


@deploy("PBX", data_defaults=defaults(ALL_SETTINGS))
def passwords_bridged(config: AsteriskConfig, snapshot: Snapshot | None = None):
    """Before NixOS switches: the passwords file holds every account of the config Asterisk
    runs and of `config` (the new phones' passwords added, the running ones kept), so that no
    restart in between, nor after a run that fails halfway, loads an account without its
    password. event_served writes `config`'s own file once the switch is done."""
    if not config.enable:
        return
    as_needed(snapshot)(
        operations.passwords_bridged,
        name="Every account of the running and of the new config has its password (before the switch)",
        path=config.secrets_path,
        secrets=HiddenValue(config.secrets),
        final_sha=sha256(config.secrets),
        **current_of(snapshot, config.secrets_path),
    )


@deploy("PBX", data_defaults=defaults(ALL_SETTINGS))
def phones_accounted(config: AsteriskConfig, snapshot: Snapshot | None = None, told=()):
    """Say per phone what this run adds, removes or changes, and who it tells to fetch their
    settings (`told`, from snom.publication): before applying (--dry, --diff) and while."""
    settings = read(ALL_SETTINGS)
    path = beside_secrets(settings, SUMMARY_FILE)
    as_needed(snapshot)(
        operations.phones_accounted,
        name=runs.check("What changes, phone by phone"),
        path=path,
        summary=config.summary_text,
        new=config.summary,
        told=tuple(told),
        **({} if snapshot is None else {"recorded": snapshot.digests.get(path)}),
    )


def served_before(snapshot: Snapshot | None) -> bool:
    """Whether Asterisk ran when the run began (its read found it running): then the phones
    have a PBX serving them until it takes this run's config, and nothing may reach them
    before it has (a rejected config leaves them their working settings). False when it did
    not run: nothing served them, so what they are given cannot take anything away. Without a
    read: True (the strict order)."""
    return snapshot is None or bool(snapshot.asterisk.running)


def sorcery_changes(config: AsteriskConfig, snapshot: Snapshot | None) -> str:
    """Why Asterisk must be restarted rather than reloaded after this run's switch: it ran
    when the run began, and its sorcery.conf (as the run's read found it) is not the plan's,
    e.g. self-service turned on or off. Asterisk applies sorcery.conf only when it starts.
    "" when nothing says so (no read, Asterisk not running: the run starts it)."""
    path = f"{names.ASTERISK_ETC}/sorcery.conf"
    if snapshot is None or not snapshot.asterisk.running or path not in snapshot.digests:
        return ""
    found, wanted = snapshot.digests[path], config.conf_files.get("sorcery.conf")
    if (found.sha256 if found else None) == (sha256(wanted) if wanted is not None else None):
        return ""
    return "its sorcery.conf changes in this run"


@deploy("Phones", data_defaults=defaults(ALL_SETTINGS))
def phones_verified(
    config: AsteriskConfig,
    changes: RunChanges | None = None,
    snapshot: Snapshot | None = None,
    base_addresses: dict[str, str] | None = None,
):
    """Every phone of `config` has a contact that answers (strict), or is reported;
    `changes` (from event_served) gives the reason for phones whose password changed and
    says whether the snapshot's view of Asterisk is still current. `base_addresses`: DECT
    base name -> the address it was last seen at (the provisioning role knows it), for the
    line that reports a base offline."""
    settings = read(ALL_SETTINGS)
    checked = config.verification
    operations.phones_registered(
        name=runs.check("Every phone is registered"),
        cli=settings.asterisk__cli,
        phones=checked.phones,
        wait=settings.televoc_register_wait,
        mode=settings.televoc_verify,
        changes=changes,
        table=settings.televoc_table,
        csv_path=posixpath.join(settings.televoc_report_dir, f"{_safe(host.name)}-phones.csv"),
        state=None if snapshot is None else snapshot.asterisk,
        groups=checked.groups,
        trunk=checked.trunk,
        peers=checked.peers,
        claimable=checked.claimable,
        bases=[
            (name, f"{(base_addresses or {}).get(name) or 'address unknown'}, {model}") for name, model in checked.bases
        ],
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _objects(snapshot):
    """Asterisk's objects as the run's snapshot listed them (snapshot_commands): PbxObjects,
    None when Asterisk was not running, UNREAD when the snapshot did not list them."""
    if snapshot is None or OBJECTS not in snapshot.outputs:
        return UNREAD
    try:
        return parse_objects(snapshot.outputs[OBJECTS])
    except ValueError:
        return UNREAD  # the step lists them itself


@deploy("PBX forgets the event", data_defaults=defaults(ALL_SETTINGS))
def trunk_withdrawn(config: AsteriskConfig, snapshot: Snapshot | None = None, leftovers: Leftovers | None = None):
    """Teardown, while Asterisk still serves the event: every outbound registration (the
    trunk) is withdrawn from its upstream (un-REGISTER), and the upstream's confirmation
    awaited, before the object goes with the rest of the config (event_removed). An
    un-REGISTER the upstream did not confirm is named until the registration has expired."""
    settings = read(ALL_SETTINGS)
    objects = _objects(snapshot)
    note = beside_secrets(settings, UNCONFIRMED_FILE)
    known = objects is not UNREAD and snapshot is not None and note in snapshot.texts
    as_needed(snapshot if known else None)(
        removal.trunk_withdrawn,
        name="The upstream drops the trunk's registration (un-REGISTER, confirmed)",
        cli=settings.asterisk__cli,
        removal=config.removal or Removal(),
        leftovers=leftovers if leftovers is not None else Leftovers(),
        note=note,
        wait=settings.asterisk__unregister_wait,
        **(
            {"outbound": None if objects is None else objects.outbound, "noted": snapshot.texts[note]}
            if known and snapshot is not None
            else {}
        ),
    )


@deploy("PBX forgets the event", data_defaults=defaults(ALL_SETTINGS))
def contacts_removed_before_stop(config: AsteriskConfig, snapshot: Snapshot | None = None):
    """Teardown that stops Asterisk (`config.enable` false): the contacts the event's phones
    left in Asterisk's registrar are removed while it still answers. Otherwise nothing:
    event_removed removes them once the accounts are gone."""
    if config.enable:
        return
    objects = _objects(snapshot)
    as_needed(snapshot if objects is not UNREAD else None)(
        removal.stored_contacts_removed,
        name="No contact of the event is left in Asterisk",
        cli=read(ALL_SETTINGS).asterisk__cli,
        **({} if objects is UNREAD else {"stored": objects}),
    )


@deploy("PBX forgets the event", data_defaults=defaults(ALL_SETTINGS))
def event_removed(config: AsteriskConfig, snapshot: Snapshot | None = None, leftovers: Leftovers | None = None):
    """
    Teardown, once NixOS serves `config` (render_teardown: nothing of the event): Asterisk
    takes it (reload) and forgets the contacts the removed aors left; the passwords, the
    fingerprints, the summary and the announcements are removed; then every object Asterisk
    serves is listed, and `leftovers` gets what went and what is still there. With `config.enable` false
    (televoc_teardown=stop), Asterisk must be stopped instead.
    """
    settings = read(ALL_SETTINGS)
    leftovers = leftovers if leftovers is not None else Leftovers()
    changes = RunChanges()
    before = _objects(snapshot)
    op = as_needed(snapshot if before is not UNREAD else None)
    if config.enable:
        _running(op, settings, snapshot, changes)
        op(
            removal.asterisk_emptied,
            name="Asterisk serves nothing of the event (reloaded; the contacts it kept removed)",
            cli=settings.asterisk__cli,
            wait=settings.asterisk__reload_wait,
            changes=changes,
            **({} if before is UNREAD else {"before": before}),
        )
    paths = snapshot_paths(settings)
    present = None if snapshot is None else [p for p in paths if snapshot.digests.get(p)]
    announcements = beside_secrets(settings, ANNOUNCEMENTS_NAME)  # there when its manifest is
    if present is not None and announcements + ".manifest" in present:
        present.append(announcements)
    as_needed(snapshot)(
        paths_absent,
        name="The event's passwords, PINs, fingerprints, summary and announcements are removed from the PBX",
        paths=[*paths, announcements],
        removed=leftovers.removed,
        present=present,
    )
    removal.nothing_left(
        name=runs.check("Asterisk lists nothing of the event"),
        cli=settings.asterisk__cli,
        leftovers=leftovers,
        stopped=not config.enable,
        changes=changes,
        before=before,
        current=before,
    )
