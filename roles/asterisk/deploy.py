"""The asterisk role's steps, as pyinfra deploys: Asterisk serves a config, phones verified.

    from roles import asterisk
    asterisk.phones_accounted(config, snapshot, told)   # what changes, phone by phone
    asterisk.event_served(config, changes, snapshot)     # passwords, running, live, stale gone
    asterisk.phones_verified(config, changes, snapshot)  # every phone registered (or reported)

`config` is the rendered AsteriskConfig of the run's plan (roles/plan.py); NixOS puts its
files in place before event_served (roles/nixos). At teardown the same event_served applies
the config without the event's phones, between contacts_removed_before_stop and
event_forgotten.
"""

from __future__ import annotations

import posixpath

from pyinfra import host
from pyinfra.api import HiddenValue

from roles.event import Account
from roles.shared import pbxfacts, runs
from roles.shared.files import managed_file, paths_absent, sha256
from roles.shared.ops import as_needed, deploy
from roles.shared.settings import Setting, absolute_path, choice, declare, defaults, read, seconds, text
from roles.shared.snapshot import Snapshot

from . import operations
from .render import SECRETS_PATH, AsteriskConfig
from .report import RunChanges

# Beside the passwords: each phone's credential fingerprint of the last run (root 0600), and
# what each phone was (no password: a fingerprint), for the next run's account of changes.
CREDENTIALS_FILE = "credentials"
SUMMARY_FILE = "phones.json"

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
    role's steps: the passwords, the fingerprints and the summary beside them."""
    return [
        settings.asterisk__secrets_path,
        beside_secrets(settings, CREDENTIALS_FILE),
        beside_secrets(settings, SUMMARY_FILE),
    ]


@deploy("PBX", data_defaults=defaults(ALL_SETTINGS))
def event_served(config: AsteriskConfig, changes: RunChanges | None = None, snapshot: Snapshot | None = None):
    """
    Make Asterisk serve `config`, whose files NixOS serves already: the SIP passwords outside
    the store, Asterisk running and proven to serve this config, no registration left that
    was made with a password that changed. With `config.enable` false (no Asterisk at all),
    the passwords file and the fingerprints are removed instead.

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
    known = _known(snapshot)
    if not config.enable:
        paths = [secrets_path, credentials]
        paths_absent(
            name="SIP passwords are removed",
            paths=paths,
            present=None if snapshot is None else [p for p in paths if snapshot.digests.get(p)],
        )
        return
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
        **known(secrets_path),
    )
    state = {} if snapshot is None else {"state": snapshot.asterisk}
    op(
        operations.running,
        name="Asterisk is running",
        cli=settings.asterisk__cli,
        start="systemctl start asterisk.service",
        wait=settings.asterisk__reload_wait,
        changes=changes,
        **state,
    )
    op(
        operations.config_live,
        name=f"Asterisk serves config generation {config.generation}",
        cli=settings.asterisk__cli,
        expected=config.expected,
        wait=settings.asterisk__reload_wait,
        changes=changes,
        **state,
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
        **known(summary_path),
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
        **_known(snapshot)(config.secrets_path),
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


def _known(snapshot):
    """`current=` for managed_file from the snapshot, when the snapshot read that path."""

    def current(path: str) -> dict:
        if snapshot is None or path not in snapshot.digests:
            return {}
        return {"current": snapshot.digests[path]}

    return current


@deploy("Phones", data_defaults=defaults(ALL_SETTINGS))
def phones_verified(config: AsteriskConfig, changes: RunChanges | None = None, snapshot: Snapshot | None = None):
    """Every phone of `config` has a contact that answers (strict), or is reported;
    `changes` (from event_served) gives the reason for phones whose password changed and
    says whether the snapshot's view of Asterisk is still current."""
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
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _remove_contacts(phones: tuple[Account, ...]) -> None:
    settings = read(ALL_SETTINGS)
    operations.contacts_removed(
        name="No contact of the event is left in Asterisk",
        cli=settings.asterisk__cli,
        aors=[a.name for a in phones],
    )


@deploy("PBX forgets the event", data_defaults=defaults(ALL_SETTINGS))
def contacts_removed_before_stop(config: AsteriskConfig, phones: tuple[Account, ...]):
    """Teardown that stops Asterisk (`config.enable` false): the contacts the event's phones
    left in Asterisk's registrar are removed while it still answers. Otherwise nothing:
    event_forgotten removes them once the accounts are gone."""
    if not config.enable:
        _remove_contacts(phones)


@deploy("PBX forgets the event", data_defaults=defaults(ALL_SETTINGS))
def event_forgotten(config: AsteriskConfig, phones: tuple[Account, ...]):
    """Teardown, after Asterisk serves `config` (the event without its phones): the contacts
    the event's phones left behind are removed, and no account or contact of the event may be
    left. (With Asterisk stopped, contacts_removed_before_stop did that.)"""
    if not config.enable:
        return
    settings = read(ALL_SETTINGS)
    _remove_contacts(phones)
    operations.no_phone_registered(
        name=runs.check("No phone of the event is registered"),
        cli=settings.asterisk__cli,
        phones=phones,
    )
