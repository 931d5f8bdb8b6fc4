"""Buildup: the event directory -> a running, verified PBX.

    pyinfra inventory.py deploy.py [--data televoc_verify=report]

A checklist: each step is a role's pyinfra deploy (roles/*/deploy.py) and changes something
only when the server differs from the directory. README.md says what each step guarantees.
"""

from pyinfra import host

from roles import asterisk, nixos, pbx, runs, snom
from roles.event import host_directory
from roles.settings import check_given

directory = host_directory(host.data)  # with venues: this host's venue
check_given()  # a misspelt --data name would silently change nothing

snapshot = pbx.read()  # one remote command: everything the steps compare, before any change
changes = asterisk.RunChanges()  # what this run changed, for the verification
publication = snom.publication(directory, snapshot)  # the phones' settings; who is told
run = runs.started("deploy.py", snapshot)  # the next run says if this one does not finish

asterisk.phones_accounted(directory, snapshot, publication.told)
nixos.module_imported(snapshot)
asterisk.event_served(directory, snom.provisioning_server(directory), changes, snapshot)
snom.provisioning_published(directory, snapshot, publication)
snom.changed_phones_resynced(directory, snapshot, publication, changes=changes)
snom.provisioning_checked(directory, snapshot)
asterisk.phones_verified(directory, changes, snapshot)
runs.finished(run)
