"""Buildup: the event directory -> a running, verified PBX.

    pyinfra inventory.py deploy.py [--data televoc_verify=report]

A checklist: each step is a role's pyinfra deploy (roles/*/deploy.py) and changes something
only when the server differs from the directory. README.md says what each step guarantees.
"""

from pyinfra import host

from roles import asterisk, nixos, runs, snom
from roles.event import event_directory
from roles.settings import check_given

directory = event_directory(host.data.televoc_event_dir)
check_given()  # a misspelt --data name would silently change nothing

runs.started("deploy.py")  # the next run says if this one does not get to its end

changes = asterisk.RunChanges()  # what this run changed, for the verification's reasons

nixos.module_imported()
asterisk.event_served(directory, snom.provisioning_server(directory), changes)
snom.provisioning_published(directory)
snom.changed_phones_resynced(directory)
snom.provisioning_checked(directory)
asterisk.phones_verified(directory, changes)
runs.finished()
