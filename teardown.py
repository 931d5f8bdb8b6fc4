"""Teardown: wipe the event from the phones and from the PBX.

    pyinfra inventory.py teardown.py
    pyinfra inventory.py teardown.py --data televoc_factory_reset=true   # phones: factory reset
    pyinfra inventory.py teardown.py --data televoc_teardown=stop        # PBX: stop and disable

Re-runnable. The event directory stays in git, so next year's buildup is one command.
"""

from pyinfra import host

from roles import asterisk, snom
from roles.settings import check_given

directory = host.data.televoc_directory
check_given()  # a misspelt --data name would silently change nothing

holdouts = snom.Holdouts()  # phones that still hold the event's credentials, judged at the end
snom.phones_wiped(directory, holdouts)
asterisk.event_removed(directory)
snom.teardown_finished(holdouts)
