"""The asterisk role's steps, as pyinfra deploys: the PBX serves a directory, phones verified.

    from roles import asterisk
    asterisk.event_served(directory)            # module, switch, passwords, running, live
    asterisk.phones_verified(directory)         # every phone registered (or reported)

The same `event_served` applies the event at buildup and the empty event at teardown.
"""

from __future__ import annotations

import posixpath

from pyinfra import host
from pyinfra.api import HiddenValue, deploy

from roles.event import Directory
from roles.event.changes import summary, summary_text
from roles.event.routing import resolve
from roles.names import TRUNK, VENUE_PREFIX
from roles.files import managed_file, paths_absent, sha256
from roles.nixos.deploy import _now, asterisk_config_switched
from roles.nixos.render import render_module
from roles import runs
from roles.ops import when_needed
from roles.settings import Setting, absolute_path, choice, declare, defaults, read, seconds, text

from . import operations
from .render import SECRETS_PATH, AsteriskConfig, credential_fingerprints, render_asterisk
from .report import RunChanges

# Beside the passwords: each phone's credential fingerprint of the last run (root 0600), and
# what each phone was (no password: a fingerprint), for the next run's account of changes.
CREDENTIALS_FILE = "credentials"
SUMMARY_FILE = "phones.json"

SETTINGS = declare(
    Setting("asterisk__cli", "asterisk -C /etc/asterisk/asterisk.conf",
            "The Asterisk CLI; -C keeps a NixOS build from looking for its control socket in "
            "the Nix store.", text),
    Setting("asterisk__secrets_path", SECRETS_PATH,
            "The file with the SIP passwords, outside the world-readable Nix store "
            "(root:asterisk 0640).", absolute_path),
    Setting("asterisk__reload_wait", 15,
            "How long to wait for Asterisk to start or to take a new config (seconds).", seconds),
    Setting("televoc_verify", "strict",
            "strict: the run fails naming every phone that is not ready; report: it only "
            "prints them.", choice("strict", "report")),
    Setting("televoc_register_wait", 30,
            "How long a strict run waits for every phone to register and answer before judging "
            "(seconds); a report run does not wait.", seconds),
    Setting("televoc_table", "auto",
            "The table of every phone: auto prints it up to 50 phones, true always, false never "
            "(it is always written to televoc_report_dir).", choice("auto", "true", "false")),
    Setting("televoc_report_dir", "reports",
            "Where on this machine each run writes every phone's state as <host>-phones.csv "
            "(relative to where pyinfra runs).", text),
    Setting("televoc_teardown", "accounts",
            "teardown: accounts removes the event's accounts and keeps the PBX running; stop "
            "stops and disables Asterisk.", choice("accounts", "stop")),
)


@deploy("PBX", data_defaults=defaults(SETTINGS))
def event_served(directory: Directory, provisioning=None, changes: RunChanges | None = None,
                 snapshot=None, enable: bool = True,
                 what: str = "the event's Asterisk config") -> AsteriskConfig:
    """
    Make the PBX serve `directory`: televoc's NixOS module, a switch when the files differ,
    the SIP passwords outside the store, Asterisk running and proven to serve this config.

    + directory: the event (teardown: the event without its phones)
    + provisioning: the provisioning server the module also runs (snom.provisioning_server),
      or None
    + changes: gets the phones whose password changed (their old registrations are dropped)
      and whether the run touched Asterisk
    + snapshot: the run's one read of the PBX (roles/pbx.py); without it, each step reads
      what it compares itself
    + enable: false stops and disables Asterisk and removes the passwords file
    + what: what NixOS serves afterwards, for the step's name
    """
    settings = read(SETTINGS)
    changes = changes if changes is not None else RunChanges()
    secrets_path = settings.asterisk__secrets_path
    config = render_asterisk(directory, secrets_path=secrets_path)
    asterisk_config_switched(
        render_module(directory, config, provisioning, secrets_path=secrets_path, enable=enable),
        {name: sha256(text) if enable else None for name, text in config.conf_files.items()},
        what,
        snapshot,
    )
    credentials = posixpath.join(posixpath.dirname(secrets_path), CREDENTIALS_FILE)
    known = _known(snapshot)
    if not enable:
        paths = [secrets_path, credentials]
        paths_absent(name="SIP passwords are removed", paths=paths,
                     present=None if snapshot is None else [p for p in paths if snapshot.digests.get(p)])
        return config
    op = when_needed if snapshot is not None else _now
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
        fingerprints=credential_fingerprints(directory),
        changes=changes,
        **({} if snapshot is None else {"recorded": snapshot.digests.get(credentials)}),
    )
    summary_path = posixpath.join(posixpath.dirname(secrets_path), SUMMARY_FILE)
    op(
        managed_file,
        name="The PBX records what each phone is now (for the next run's account of changes)",
        path=summary_path, content=summary_text(_summary(directory)), mode="600", group="asterisk",
        **known(summary_path),
    )
    return config


@deploy("PBX", data_defaults=defaults(SETTINGS))
def phones_accounted(directory: Directory, snapshot=None, told=()):
    """Say per phone what this run adds, removes or changes, and who it tells to fetch their
    settings (`told`, from snom.publication): before applying (--dry, --diff) and while."""
    settings = read(SETTINGS)
    path = posixpath.join(posixpath.dirname(settings.asterisk__secrets_path), SUMMARY_FILE)
    new = _summary(directory)
    (when_needed if snapshot is not None else _now)(
        operations.phones_accounted,
        name=runs.check("What changes, phone by phone"),
        path=path, summary=summary_text(new), new=new, told=tuple(told),
        **({} if snapshot is None else {"recorded": snapshot.digests.get(path)}),
    )


_SUMMARIES: dict = {}


def _summary(directory: Directory) -> dict:
    """The directory's summary, worked out once per run (two steps need it)."""
    if id(directory) not in _SUMMARIES:
        _SUMMARIES[id(directory)] = (directory, summary(directory))
    return _SUMMARIES[id(directory)][1]


def _known(snapshot):
    """`current=` for managed_file from the snapshot, when the snapshot read that path."""
    def current(path: str) -> dict:
        if snapshot is None or path not in snapshot.digests:
            return {}
        return {"current": snapshot.digests[path]}
    return current


@deploy("Phones", data_defaults=defaults(SETTINGS))
def phones_verified(directory: Directory, changes: RunChanges | None = None, snapshot=None):
    """Every phone of `directory` has a contact that answers (strict), or is reported;
    `changes` (from event_served) gives the reason for phones whose password changed and
    says whether the snapshot's view of Asterisk is still current."""
    settings = read(SETTINGS)
    operations.phones_registered(
        name=runs.check("Every phone is registered"),
        cli=settings.asterisk__cli,
        phones=directory.accounts,
        wait=settings.televoc_register_wait,
        mode=settings.televoc_verify,
        changes=changes,
        table=settings.televoc_table,
        csv_path=posixpath.join(settings.televoc_report_dir, f"{_safe(host.name)}-phones.csv"),
        state=None if snapshot is None else snapshot.asterisk,
        groups=[(r.name, tuple(leg.name for leg in r.legs)) for r in resolve(directory).routes if r.kind == "group"],
        trunk=(TRUNK, f"{directory.trunk.trunk.username} at {directory.trunk.trunk.registrar}") if directory.trunk else None,
        peers=[(VENUE_PREFIX + p.name, p.name) for p in directory.venue.peers] if directory.venue else (),
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


@deploy("PBX forgets the event", data_defaults=defaults(SETTINGS))
def event_removed(directory: Directory, provisioning=None, snapshot=None):
    """
    The PBX forgets the event: its accounts and the contacts they leave behind are removed
    (the provisioning server keeps serving the wiped profiles for phones that boot late), or, with
    televoc_teardown=stop, Asterisk is stopped and disabled and the passwords file removed.
    Then nothing of the event may be left on it.
    """
    settings = read(SETTINGS)
    stop = settings.televoc_teardown == "stop"
    remove_contacts = dict(
        name="No contact of the event is left in Asterisk",
        cli=settings.asterisk__cli,
        aors=[a.name for a in directory.accounts],
    )
    if stop:  # while Asterisk still answers
        operations.contacts_removed(**remove_contacts)
    event_served(
        directory.without_phones(),
        provisioning,  # keeps serving the wiped profiles to phones that boot late
        snapshot=snapshot,
        enable=not stop,
        what="no Asterisk" if stop else "an Asterisk config without the event's phones",
    )
    if not stop:
        operations.contacts_removed(**remove_contacts)
        operations.no_phone_registered(
            name=runs.check("No phone of the event is registered"),
            cli=settings.asterisk__cli,
            phones=directory.accounts,
        )
