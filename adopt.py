"""Adopt phones that cannot get the provisioning URL from DHCP (option 66): set their
setting_server once through their web interface, then reboot them; they fetch their settings
and register.

    pyinfra inventory.py adopt.py                               # every phone with mac and address
    pyinfra inventory.py adopt.py --data televoc_adopt=saal1,saal2

Run deploy.py first (it publishes the settings). The phone's current web password is the
directory's `web_password` (second-hand phone) or none (factory fresh).
"""

from urllib.parse import quote

from pyinfra import host

from roles.snom import operations as snom
from roles.snom import provisioning_url

data = host.data
directory = data.televoc_directory
wanted = str(data.televoc_adopt)
phones = [
    a for a in directory.provisioned
    if (wanted == "all" and a.address) or a.name in wanted.split(",")
]
missing = [a.name for a in phones if not a.address]
if missing:
    raise ValueError(f"phones without an address in phones.yml cannot be adopted: {', '.join(missing)}")

setting_server = quote(provisioning_url(directory), safe="")
snom.phone_web_requests(
    name=f"{len(phones)} phones fetch their settings from the PBX",
    cli=data.asterisk__cli,
    requests=[
        (a.name, a.address,
         [f"/dummy.htm?settings=save&setting_server={setting_server}", "/advanced_update.htm?reboot=Reboot"],
         directory.event.provisioning.web_user, a.web_password_before)
        for a in phones
    ],
    requests_path="/var/lib/televoc/requests/adopt.curl",
    what="adopted (setting_server set, rebooting)",
)
