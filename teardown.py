"""Teardown: wipe the event from the phones and from the PBX.

    pyinfra inventory.py teardown.py
    pyinfra inventory.py teardown.py --data televoc_factory_reset=true   # phones: factory reset
    pyinfra inventory.py teardown.py --data televoc_teardown=stop        # PBX: stop and disable

Re-runnable: a second teardown finds nothing to do and says so. The event directory stays in
git, so next year's buildup is one command.
"""

from pyinfra import host
from pyinfra.api import HiddenValue

from roles.asterisk import operations as asterisk
from roles.asterisk import render_asterisk
from roles.event import Directory
from roles.files import flag, managed_file, paths_absent, sha256
from roles.nixos import operations as nixos
from roles.nixos import render_module
from roles.snom import operations as snom
from roles.snom import render_wipe
from roles.snom.render import NOTIFY_CHECK_SYNC_REBOOT, file_name

data = host.data
directory = data.televoc_directory
names = [account.name for account in directory.accounts]
provisioned = [account.name for account in directory.provisioned]
stop = str(data.televoc_teardown) == "stop"
factory_reset = flag(data.televoc_factory_reset)
if str(data.televoc_teardown) not in ("accounts", "stop"):
    raise ValueError(f"televoc_teardown must be 'accounts' or 'stop', not {data.televoc_teardown!r}")

# 1. The phones forget the event: a wiped profile and a resync with reboot, or a factory reset.
if factory_reset:
    snom.phone_web_requests(
        name="Provisioned phones are reset to factory settings over their web interface",
        cli=data.asterisk__cli,
        requests=[
            (a.name, a.address, ["/advanced_update.htm?reset=Reset"],
             directory.event.provisioning.web_user, a.web_password)
            for a in directory.provisioned
        ],
        requests_path="/var/lib/televoc/requests/teardown.curl",
        what="reset to factory settings",
        only_registered=True,
    )
else:
    snom.provisioning_published(
        name="Provisioned phones are offered a wiped profile",
        directory=data.snom__provisioning_dir,
        files=HiddenValue(render_wipe(directory)),
        phones={file_name(a): a.name for a in directory.provisioned},
        pending_path=data.snom__pending_path,
    )
    snom.phones_told_to_resync(
        name="Provisioned phones are told to fetch the wiped profile and reboot",
        cli=data.asterisk__cli,
        pending_path=data.snom__pending_path,
        phones=provisioned,
        notify=NOTIFY_CHECK_SYNC_REBOOT,
    )

snom.wiped_phones_unregistered(
    name="No provisioned phone holds the event's credentials any more",
    cli=data.asterisk__cli,
    phones=provisioned,
    wait=float(data.snom__wipe_wait),
)

# 2. The PBX forgets the event: its accounts and their contacts, or the whole PBX.
if stop:
    asterisk.contacts_removed(
        name="No contact of the event is left in Asterisk", cli=data.asterisk__cli, aors=names
    )
empty = Directory(event=directory.event, accounts=())
config = render_asterisk(
    empty, secrets_path=data.asterisk__secrets_path, serve_provisioning=bool(provisioned) and not stop
)
managed_file(
    name="televoc's NixOS module holds no phone" + (" and disables Asterisk" if stop else ""),
    path=data.nixos__module_path,
    content=render_module(empty, config, secrets_path=data.asterisk__secrets_path, enable=not stop),
)
nixos.switched(
    name="NixOS serves " + ("no Asterisk" if stop else "an Asterisk config without the event's phones"),
    rebuild=data.nixos__rebuild,
    expected={name: None if stop else sha256(text) for name, text in config.conf_files.items()},
)
if stop:
    paths_absent(  # the wiped profiles stay: they hold nothing of the event
        name="SIP passwords are removed",
        paths=[data.asterisk__secrets_path, data.snom__pending_path],
    )
else:
    managed_file(
        name="The secrets file holds no password",
        path=data.asterisk__secrets_path,
        content=HiddenValue(config.secrets),
        mode="640",
        group="asterisk",
        dir_mode="750",
    )
    asterisk.config_live(
        name="Asterisk serves no account of the event",
        cli=data.asterisk__cli,
        generation=config.generation,
        dialplan_generation=config.dialplan_generation,
        bind=f"{directory.event.sip.bind}:{directory.event.sip.port}",
        phones=[],
        wait=float(data.asterisk__reload_wait),
    )
    asterisk.contacts_removed(
        name="No contact of the event is left in Asterisk", cli=data.asterisk__cli, aors=names
    )
    asterisk.no_phone_registered(
        name="No phone of the event is registered",
        cli=data.asterisk__cli,
        phones=names,
        provisioned=provisioned,
    )

snom.teardown_finished(name="Every phone of the event forgot it")
