"""Teardown: wipe the event from the phones and from the PBX.

    pyinfra inventory.py teardown.py
    pyinfra inventory.py teardown.py --data televoc_factory_reset=true     # phones: factory reset too
    pyinfra inventory.py teardown.py --data televoc_reset_by_hand=saal1     # the crew reset saal1
    pyinfra inventory.py teardown.py --data televoc_teardown=stop          # PBX: stop and disable

Fails, naming them, until every phone is proven clean; the record of what is proven stays on
the PBX between runs. The event directory stays in git, so next year's buildup is one command.
"""

from pyinfra import host

from roles import asterisk, nixos, pbx, snom
from roles.event import host_directory
from roles.plan import check_given, for_teardown
from roles.shared import runs

directory = host_directory(host.data)  # with venues: this host's venue
check_given()  # a misspelt --data name would silently change nothing

plan = for_teardown(directory)  # the event without its phones; wiped profiles for the phones
snapshot = pbx.read(plan)  # one remote command: everything the steps compare, before any change
run = runs.started("teardown.py", snapshot)  # the next run says if this one does not finish

record = snom.teardown_started(directory, snapshot)  # who holds credentials, where seen: first
outcome = snom.Outcome()  # what this run proves, filled in by the steps below
snom.phones_wiped(directory, plan.provisioning, record, outcome, snapshot)
asterisk.contacts_removed_before_stop(plan.asterisk, directory.accounts)  # only when stopping it
switched = nixos.module_switched(plan.module, plan.serving, snapshot)
nixos.firewall_checked(plan.module, snapshot, switched)
asterisk.event_served(plan.asterisk, asterisk.RunChanges(), snapshot)
asterisk.event_forgotten(plan.asterisk, directory.accounts)  # nothing of the event left in it
snom.teardown_judged(record, outcome)
runs.finished(run)
