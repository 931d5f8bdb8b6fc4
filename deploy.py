"""Buildup: the event directory -> a running, verified PBX.

    pyinfra inventory.py deploy.py [--data televoc_verify=report]

A checklist: the plan renders everything once (roles/plan.py), each step is a role's pyinfra
deploy (roles/*/deploy.py) and changes something only when the server differs from the plan.
docs/dev/architecture.md says what each step guarantees.
"""

from pyinfra import host

from roles import asterisk, calllog, nixos, pbx, selfservice, snom
from roles.event import event_directory, host_directory
from roles.plan import check_given
from roles.shared import runs

directory = host_directory(host.data)  # with venues: this host's venue
check_given()  # a misspelt --data name would silently change nothing

# everything this run puts on the PBX, rendered once, while the one remote command reads what
# the steps compare, before any change
plan, snapshot = pbx.planned_and_read(directory)
changes = asterisk.RunChanges()  # what this run changed, for the verification
publication = snom.publication(directory, plan.provisioning, snapshot)  # the phones' settings; who is told
run = runs.started("deploy.py", snapshot)  # the next run says if this one does not finish
claims = selfservice.held(snapshot)  # the numbers participants hold (the self-service database)
served = asterisk.served_before(snapshot)  # Asterisk ran when the run began: it serves the phones

selfservice.claims_respected(host.data.televoc_event_dir, event_directory(host.data.televoc_event_dir), claims)

asterisk.phones_accounted(plan.asterisk, snapshot, publication.told)
nixos.module_imported(snapshot)
asterisk.passwords_bridged(plan.asterisk, snapshot)  # no restart may load an account without its password
switched = nixos.module_switched(plan.module, plan.serving, snapshot)
nixos.firewall_checked(plan.module, snapshot, switched)
selfservice.database_migrated(plan.selfservice, claims)  # claims kept; Asterisk reads them live
selfservice.board_password_in_place(plan.board, snapshot)  # the crew's, hashed; no board: nothing
if not served:  # nothing served the phones: their settings go up while Asterisk starts
    snom.provisioning_published(directory, plan.provisioning, snapshot, publication)
asterisk.event_served(plan.asterisk, changes, snapshot)
calllog.call_log_in_place(directory.event.call_log.enabled, snapshot, switched)  # off: nothing written
if served:  # only once Asterisk serves this config: a rejected one leaves the phones theirs
    snom.provisioning_published(directory, plan.provisioning, snapshot, publication)
snom.changed_phones_resynced(directory, snapshot, publication, changes=changes)
snom.bases_resynced(directory, plan.provisioning, snapshot, changes=changes)  # check-sync, then proven fetched
snom.provisioning_checked(directory, plan.provisioning, snapshot)
asterisk.phones_verified(plan.asterisk, changes, snapshot, snom.base_addresses(directory, plan.provisioning, snapshot))
runs.finished(run)
