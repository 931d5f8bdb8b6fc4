"""Teardown: wipe the event from the phones and from the PBX.

    pyinfra inventory.py teardown.py
    pyinfra inventory.py teardown.py --data televoc_factory_reset=true     # phones: factory reset too
    pyinfra inventory.py teardown.py --data televoc_reset_by_hand=saal1     # the crew reset saal1
    pyinfra inventory.py teardown.py --data televoc_teardown=stop          # PBX: stop and disable

Ends with one message per PBX: what it removed, or everything of the event still left there
(then it fails). The record of which phones are proven clean stays on the PBX between runs;
the event directory stays in git, so next year's buildup is one command.
"""

from pyinfra import host

from roles import asterisk, calllog, nixos, pbx, selfservice, snom
from roles.event import host_directory
from roles.plan import check_given, for_teardown
from roles.shared import runs
from roles.shared.leftovers import Leftovers, leftovers_reported

directory = host_directory(host.data)  # with venues: this host's venue
check_given()  # a misspelt --data name would silently change nothing

plan = for_teardown(directory)  # nothing of the event for Asterisk; wiped profiles for the phones
snapshot = pbx.read(plan)  # one remote command: everything the steps compare, before any change
run = runs.started("teardown.py", snapshot)  # the next run says if this one does not finish
leftovers = Leftovers()  # what each step removed, and what it could not: said once, at the end

claims = selfservice.held(snapshot)  # the claims, and participants' snoms: (number, MAC)
record = snom.teardown_started(directory, snapshot, claims.phones)  # who holds credentials, where seen: first
outcome = snom.Outcome()  # what this run proves, filled in by the steps below
snom.phones_wiped(directory, plan.provisioning, record, outcome, snapshot)  # participants' snoms too
selfservice.claims_exported(claims)  # CSV on this machine, before the database goes
calllog.call_log_exported(snapshot)  # CSV on this machine, before the call log goes
asterisk.trunk_withdrawn(plan.asterisk, snapshot, leftovers)  # un-REGISTER, confirmed, while it still exists
asterisk.contacts_removed_before_stop(plan.asterisk, snapshot)  # only when stopping Asterisk
switched = nixos.module_switched(plan.module, plan.serving, snapshot)
nixos.firewall_checked(plan.module, snapshot, switched)
asterisk.event_removed(plan.asterisk, snapshot, leftovers)  # reloaded; every object listed: none of the event's
selfservice.database_removed(claims, leftovers)  # after Asterisk stopped reading it
selfservice.board_password_removed(snapshot, leftovers)  # the crew's, hashed (the page is gone)
calllog.call_log_removed(snapshot, leftovers)  # after Asterisk stopped writing it (CDR off)
snom.teardown_judged(record, outcome, leftovers)
leftovers_reported(leftovers)  # one message for this PBX; fails naming whatever is left
runs.finished(run)
