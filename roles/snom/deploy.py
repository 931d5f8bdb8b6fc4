"""The snom role's steps, as pyinfra deploys: provisioning, resync, adopt, teardown.

    from roles import snom
    snom.provisioning_published(directory)          # buildup: every phone's settings
    snom.changed_phones_resynced(directory)         # NOTIFY the phones whose settings changed
    snom.phones_adopted(directory)                  # adopt.py: setting_server over the web
    holdouts = snom.Holdouts()                      # teardown: phones forget the event,
    snom.phones_wiped(directory, holdouts)          # ... what they still hold is recorded
    snom.teardown_finished(holdouts)                # ... and judged at the end
"""

from __future__ import annotations

from urllib.parse import quote

from pyinfra.api import HiddenValue, deploy

from roles import asterisk
from roles.event import Directory
from roles.files import paths_absent
from roles.names import NOTIFY_CHECK_SYNC, NOTIFY_CHECK_SYNC_REBOOT
from roles.settings import (
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

from . import operations
from .operations import Holdouts
from .render import PROVISIONING_DIR, provisioning_url, render_provisioning, render_wipe, url_path
from .web import WebRequest


def _served_dir(value) -> str:
    path = absolute_path(value)
    url_path(path)  # ValueError unless Asterisk's HTTP server serves it
    return path


SETTINGS = declare(
    Setting("snom__provisioning_dir", PROVISIONING_DIR,
            "Where the provisioning files live on the PBX (root:asterisk 0640), under what "
            "Asterisk's HTTP server serves; the phones' URL follows from it.", _served_dir),
    Setting("snom__pending_path", "/var/lib/televoc/notify-pending",
            "The list of phones whose settings changed and that still have to be told to "
            "fetch them (an interrupted run leaves it for the next one).", absolute_path),
    Setting("snom__wipe_wait", 60,
            "How long teardown waits for wiped phones to unregister (seconds).", seconds),
    Setting("televoc_factory_reset", False,
            "teardown: true resets each phone to factory settings over its web interface "
            "instead of provisioning a wiped profile.", boolean),
    Setting("televoc_adopt", "all",
            "adopt.py: the phones to adopt, comma-separated names, or all (every phone with "
            "mac and address).", names),
)
DATA_DEFAULTS = defaults((*SETTINGS, *asterisk.SETTINGS))
ALL_SETTINGS = (*SETTINGS, *asterisk.SETTINGS)
FACTORY_RESET = "/advanced_update.htm?reset=Reset"
REBOOT = "/advanced_update.htm?reboot=Reboot"


@deploy("Provisioning", data_defaults=DATA_DEFAULTS)
def provisioning_published(directory: Directory, wiped: bool = False):
    """
    The PBX serves every provisioned phone its settings (or, with `wiped`, a profile that
    clears the event from it); the phones whose file changed are recorded for a resync.
    """
    settings = read(ALL_SETTINGS)
    files = render_wipe(directory) if wiped else render_provisioning(directory, settings.snom__provisioning_dir)
    operations.provisioning_published(
        name="Provisioned phones are offered a wiped profile" if wiped else
        f"Provisioning files of {len(directory.provisioned)} snom phones are served by the PBX",
        directory=settings.snom__provisioning_dir,
        files=HiddenValue(files),
        phones=directory.provisioned,
        pending_path=settings.snom__pending_path,
    )


@deploy("Provisioning", data_defaults=DATA_DEFAULTS)
def changed_phones_resynced(directory: Directory, reboot: bool = False):
    """The phones whose settings changed are told to fetch them (and, with `reboot`, to reboot)."""
    settings = read(ALL_SETTINGS)
    operations.phones_told_to_resync(
        name="Provisioned phones are told to fetch the wiped profile and reboot" if reboot else
        "Phones whose settings changed are told to fetch them",
        cli=settings.asterisk__cli,
        pending_path=settings.snom__pending_path,
        phones=[a.name for a in directory.provisioned],
        notify=NOTIFY_CHECK_SYNC_REBOOT if reboot else NOTIFY_CHECK_SYNC,
    )


def _adopted(directory: Directory, wanted: tuple[str, ...]):
    provisioned = {a.name: a for a in directory.provisioned}
    if wanted == ("all",):
        return [a for a in directory.provisioned if a.address]
    unknown = [n for n in wanted if n not in provisioned]
    if unknown:
        raise SettingError(
            f"--data televoc_adopt: not a provisioned phone (with mac and model) of the directory: "
            f"{', '.join(unknown)}"
        )
    chosen = [provisioned[n] for n in wanted]
    missing = [a.name for a in chosen if not a.address]
    if missing:
        raise SettingError(f"--data televoc_adopt: no address in phones.yml, cannot adopt: {', '.join(missing)}")
    return chosen


@deploy("Adopt", data_defaults=DATA_DEFAULTS)
def phones_adopted(directory: Directory):
    """Phones that cannot get the provisioning URL by DHCP get it over their web interface,
    then reboot, fetch their settings and register."""
    settings = read(ALL_SETTINGS)
    phones = _adopted(directory, settings.televoc_adopt)
    setting_server = quote(provisioning_url(directory, settings.snom__provisioning_dir), safe="")
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
def phones_wiped(directory: Directory, holdouts: Holdouts):
    """
    Every provisioned phone forgets the event: a wiped profile and a resync with reboot, or
    (televoc_factory_reset) a factory reset over its web interface. `holdouts` gets the
    phones that still hold the event's credentials after snom__wipe_wait.
    """
    settings = read(ALL_SETTINGS)
    if settings.televoc_factory_reset:
        user = directory.event.provisioning.web_user
        operations.phone_web_requests(
            name="Provisioned phones are reset to factory settings over their web interface",
            cli=settings.asterisk__cli,
            requests=[WebRequest(a.name, a.address, (FACTORY_RESET,), user, a.event_web_password)
                      for a in directory.provisioned],
            requests_path="/var/lib/televoc/requests/teardown.curl",
            what="reset to factory settings",
            only_registered=True,
        )
    else:
        provisioning_published(directory, wiped=True)
        changed_phones_resynced(directory, reboot=True)
    operations.wiped_phones_unregistered(
        name="No provisioned phone holds the event's credentials any more",
        cli=settings.asterisk__cli,
        phones=[a.name for a in directory.provisioned],
        holdouts=holdouts,
        wait=settings.snom__wipe_wait,
    )


@deploy("Phones forget the event", data_defaults=DATA_DEFAULTS)
def teardown_finished(holdouts: Holdouts):
    """Nobody is left to be told to resync; fail the run naming every phone that still holds
    the event's credentials."""
    paths_absent(name="No phone is left to be told to resync", paths=[read(ALL_SETTINGS).snom__pending_path])
    operations.teardown_finished(name="Every phone of the event forgot it", holdouts=holdouts)
