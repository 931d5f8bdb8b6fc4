"""Adopt phones that cannot get the provisioning URL from DHCP (option 66): set their
setting_server once through their web interface, then reboot them; they fetch their settings
and register.

    pyinfra inventory.py adopt.py                               # every phone with mac and address
    pyinfra inventory.py adopt.py --data televoc_adopt=saal1,saal2

Run deploy.py first (it publishes the settings). The phone's current web password is the
directory's `web_password_before` (second-hand phone) or none (factory fresh).
"""

from pyinfra import host

from roles import snom
from roles.event import host_directory
from roles.plan import check_given
from roles.shared import runs

directory = host_directory(host.data)  # with venues: this host's venue
check_given()  # a misspelt --data name would silently change nothing

run = runs.started("adopt.py")  # the next run says if this one does not finish

snom.phones_adopted(directory)
runs.finished(run)
