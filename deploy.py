"""Buildup: the event directory -> a running, verified PBX.

    pyinfra inventory.py deploy.py [--data televoc_verify=report]

A checklist: the plan renders everything once (roles/plan.py), each step is a role's pyinfra
deploy (roles/*/deploy.py) and changes something only when the server differs from the plan.
docs/dev/architecture.md says what each step guarantees.
"""

from pyinfra import host

from roles import asterisk, nixos, pbx, snom
from roles.event import host_directory
from roles.plan import check_given, for_deploy
from roles.shared import runs

directory = host_directory(host.data)  # with venues: this host's venue
check_given()  # a misspelt --data name would silently change nothing

plan = for_deploy(directory)  # everything this run puts on the PBX, rendered once
snapshot = pbx.read(plan)  # one remote command: everything the steps compare, before any change
changes = asterisk.RunChanges()  # what this run changed, for the verification
publication = snom.publication(directory, plan.provisioning, snapshot)  # the phones' settings; who is told
run = runs.started("deploy.py", snapshot)  # the next run says if this one does not finish

asterisk.phones_accounted(plan.asterisk, snapshot, publication.told)
nixos.module_imported(snapshot)
asterisk.passwords_bridged(plan.asterisk, snapshot)  # no restart may load an account without its password
switched = nixos.module_switched(plan.module, plan.serving, snapshot)
nixos.firewall_checked(plan.module, snapshot, switched)
asterisk.event_served(plan.asterisk, changes, snapshot)
snom.provisioning_published(directory, plan.provisioning, snapshot, publication)
snom.changed_phones_resynced(directory, snapshot, publication, changes=changes)
snom.bases_resynced(directory, plan.provisioning, snapshot, changes=changes)  # check-sync, then proven fetched
snom.provisioning_checked(directory, plan.provisioning, snapshot)
asterisk.phones_verified(plan.asterisk, changes, snapshot, snom.base_addresses(directory, plan.provisioning, snapshot))
runs.finished(run)
