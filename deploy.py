"""Buildup: the event directory -> a running, verified PBX.

    pyinfra inventory.py deploy.py [--data televoc_verify=report]

Reads like a checklist; every step is a pyinfra operation and changes something only when the
server differs from the directory. See README.md for what each step guarantees.
"""

from pyinfra import host
from pyinfra.api import HiddenValue

from roles.asterisk import operations as asterisk
from roles.asterisk import render_asterisk
from roles.files import flag, managed_file, sha256
from roles.nixos import operations as nixos
from roles.nixos import render_module
from roles.snom import operations as snom
from roles.snom import render_provisioning
from roles.snom.render import file_name

data = host.data
directory = data.televoc_directory
config = render_asterisk(directory, secrets_path=data.asterisk__secrets_path)
phones = [(account.name, account.extension) for account in directory.accounts]

if flag(data.nixos__check_import):
    nixos.module_imported(
        name="NixOS configuration imports televoc's module",
        configuration=data.nixos__configuration,
        module_path=data.nixos__module_path,
        import_line=data.nixos__import_line,
    )

managed_file(
    name="televoc's NixOS module is in place (no secrets in it)",
    path=data.nixos__module_path,
    content=render_module(directory, config, secrets_path=data.asterisk__secrets_path),
)

nixos.switched(
    name="NixOS serves the event's Asterisk config",
    rebuild=data.nixos__rebuild,
    expected={name: sha256(text) for name, text in config.conf_files.items()},
)

managed_file(
    name="SIP passwords are in place outside the Nix store (root:asterisk 0640)",
    path=data.asterisk__secrets_path,
    content=HiddenValue(config.secrets),
    mode="640",
    group="asterisk",
    dir_mode="750",
)

asterisk.running(
    name="Asterisk is running",
    cli=data.asterisk__cli,
    start="systemctl start asterisk.service",
    wait=float(data.asterisk__reload_wait),
)

asterisk.config_live(
    name=f"Asterisk serves config generation {config.generation}",
    cli=data.asterisk__cli,
    generation=config.generation,
    dialplan_generation=config.dialplan_generation,
    bind=f"{directory.event.sip.bind}:{directory.event.sip.port}",
    phones=[name for name, _ in phones],
    wait=float(data.asterisk__reload_wait),
)

snom.provisioning_published(
    name=f"Provisioning files of {len(directory.provisioned)} snom phones are served by the PBX",
    directory=data.snom__provisioning_dir,
    files=HiddenValue(render_provisioning(directory)),
    phones={file_name(account): account.name for account in directory.provisioned},
    pending_path=data.snom__pending_path,
)

snom.phones_told_to_resync(
    name="Phones whose settings changed are told to fetch them",
    cli=data.asterisk__cli,
    pending_path=data.snom__pending_path,
    phones=[account.name for account in directory.provisioned],
)

asterisk.phones_registered(
    name="Every phone is registered",
    cli=data.asterisk__cli,
    phones=phones,
    wait=float(data.televoc_register_wait),
    mode=str(data.televoc_verify),
)
