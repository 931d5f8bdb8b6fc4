"""Phones against the lab: zero-touch snom provisioning, resync of changed phones only, adopt,
and teardown. Simulated snom phones (tests/lab/snomsim.py: pyVoIP registering with exactly
what they fetched from the PBX) behave as the snom docs describe.

The tests share one lab and run in file order: buildup, change, teardown, teardown again.
"""

from __future__ import annotations

import re
import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.deploys import run_pyinfra, write_inventory
from tests.lab.lab import Lab
from tests.lab.snom import SnomFleet, SnomPhone
from tests.lab.wait import wait_for

URL = "http://127.0.0.1:8088/static/televoc/{mac}.xml"
PHONES = {  # name: (MAC, own loopback address, SIP port); web interfaces on port 80
    "hall1": ("000413A00001", "127.0.0.11", 5061),
    "hall2": ("000413A00002", "127.0.0.12", 5062),
    "desk": ("000413A00003", "127.0.0.13", 5063),
}
PROVISIONING = "/var/lib/asterisk/static-http/televoc"


@dataclass
class Event:
    lab: Lab
    fleet: SnomFleet
    directory: Path
    secret: Path
    inventory: Path

    def run(self, deploy: str, *args: str):
        return run_pyinfra(self.inventory, deploy, self.directory, self.secret, *args)

    def state(self, name: str) -> dict:
        return self.fleet.state(PHONES[name][0])

    def http_status(self, path: str) -> str:
        return self.lab.run(f"curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:8088{path}").stdout


def write_directory(directory: Path, hall2_name: str = "Hall 2") -> None:
    directory.mkdir(exist_ok=True)
    (directory / "event.yml").write_text("name: phones-test\nnetwork: 127.0.0.0/27\npbx_address: 127.0.0.1\n")
    (directory / "phones.yml").write_text(textwrap.dedent(f"""\
        phones:
          - {{name: hall1, extension: 2001, display_name: Hall 1, mac: "{PHONES['hall1'][0]}", model: snom320}}
          - {{name: hall2, extension: 2002, display_name: {hall2_name}, mac: "{PHONES['hall2'][0]}", model: snom300}}
          - {{name: desk, extension: 2003, display_name: Desk, mac: "{PHONES['desk'][0]}", model: snom320,
              address: "{PHONES['desk'][1]}", ringer: Silent}}
        """))


@pytest.fixture(scope="module")
def event(tmp_path_factory):
    work = tmp_path_factory.mktemp("phones")
    lab = Lab(work / "lab")
    lab.up()
    fleet = SnomFleet(lab, work / "snom")
    try:
        write_directory(work / "event")
        secret = work / "event.secret"
        secret.write_text(secrets.token_urlsafe(48) + "\n")
        inventory = write_inventory(work / "inventory.py", lab.pyinfra_host_data())
        yield Event(lab, fleet, work / "event", secret, inventory)
    finally:
        fleet.stop()
        lab.down()


def test_phones_provision_themselves_and_register_with_no_credential_typed(event):
    first = event.run("deploy.py", "--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
    assert first.returncode == 0, first.output
    # Plugged in: hall1 and hall2 get the URL from DHCP (option 66); desk gets nothing.
    event.fleet.start([
        SnomPhone(mac, port, 80, URL if name != "desk" else None, ip=ip)
        for name, (mac, ip, port) in PHONES.items()
    ])
    adopt = event.run("adopt.py")
    assert adopt.returncode == 0, adopt.output
    assert "adopted (setting_server set, rebooting): desk" in adopt.output
    run = event.run("deploy.py", "--data", "televoc_register_wait=30")
    assert run.returncode == 0, run.output
    assert "all 3 phones are registered" in run.output
    for name, (mac, ip, port) in PHONES.items():
        state = event.fleet.wait(mac, lambda s: s["registered"], what=f"{name} registered")
        assert state["registered_as"] == name
        assert re.search(rf"^\s*{name}\s+\d+\s+sip:{name}@{re.escape(ip)}:{port}\S*\s+Avail", run.output, re.M), run.output
    assert event.state("desk")["settings"]["user_ringer.1"] == "Silent"


def test_provisioning_files_are_private_and_unknown_macs_get_404(event):
    listing = event.lab.run(f"stat -c '%a %U %G %n' {PROVISIONING} {PROVISIONING}/*.xml").stdout.splitlines()
    assert listing[0].split()[:3] == ["750", "root", "asterisk"]
    assert all(line.split()[:3] == ["640", "root", "asterisk"] for line in listing[1:]), listing
    assert len(listing) == 4
    assert event.http_status(f"/static/televoc/{PHONES['hall1'][0]}.xml") == "200"
    assert event.http_status("/static/televoc/000413FFFFFF.xml") == "404"
    assert event.lab.run(f"ls -A {PROVISIONING}").stdout.split() == sorted(f"{mac}.xml" for mac, _, _ in PHONES.values())
    for name in PHONES:
        password = event.state(name)["settings"]["user_pass.1"]
        assert len(password) == 24
        found = event.lab.run(f"grep -rlF -- '{password}' /nix/store /etc/nixos || true").stdout.strip()
        assert found == "", f"{name}'s password is in {found}"


def test_an_account_works_only_from_the_phone_network(event):
    settings = event.state("hall1")["settings"]
    password = settings["user_pass.1"]
    assert not event.lab.register("hall1", password, 5099, local_ip="127.0.0.77"), "accepted from outside 127.0.0.0/27"
    assert event.lab.register("hall1", password, 5099, local_ip="127.0.0.20"), "refused from inside the network"
    event.lab.unregister("hall1", password, 5099, local_ip="127.0.0.20")
    mac = PHONES["hall1"][0]  # the phone takes its registration back after a reboot
    assert event.fleet.web(mac, "/advanced_update.htm?reboot=Reboot", ("admin", settings["http_pass"])) == 200
    event.fleet.wait(mac, lambda s: s["reboots"] >= 1 and s["registered"], what="hall1 rebooted")
    wait_for(lambda: "hall1/sip:hall1@127.0.0.11" in event.lab.asterisk("pjsip show contacts"), 15,
             "hall1 to register again after its reboot")


def test_changing_one_display_name_resyncs_that_phone_only(event):
    before = {name: event.state(name) for name in PHONES}
    write_directory(event.directory, hall2_name="Hall Two")
    run = event.run("deploy.py")
    assert run.returncode == 0, run.output
    assert "told to fetch their settings (televoc-check-sync): hall2" in run.output
    hall2 = event.fleet.wait(
        PHONES["hall2"][0],
        lambda s: s["notifies"] == before["hall2"]["notifies"] + 1 and s["settings"].get("user_realname.1") == "Hall Two",
        what="hall2 re-provisioned",
    )
    assert hall2["fetches"] > before["hall2"]["fetches"]
    for name in ("hall1", "desk"):
        assert event.state(name)["notifies"] == before[name]["notifies"], f"{name} was notified too"
    again = event.run("deploy.py", "-v")
    assert "no phone's settings changed: no NOTIFY sent" in again.output
    assert event.state("hall2")["notifies"] == hall2["notifies"]


def test_teardown_wipes_every_phone_and_leaves_nothing_on_the_pbx(event):
    run = event.run("teardown.py")
    assert run.returncode == 0, run.output
    assert "wiped and unregistered: hall1, hall2, desk" in run.output
    for name, (mac, _, _) in PHONES.items():
        state = event.fleet.wait(mac, lambda s: not s["registered"], what=f"{name} unregistered")
        assert state["settings"].get("user_pass.1", "") == ""
        assert state["settings"].get("user_active.1") == "off"
        assert state["settings"].get("setting_server", "") == ""
    assert "No objects found" in event.lab.asterisk("pjsip show endpoints")
    assert "No objects found" in event.lab.asterisk("pjsip show contacts")
    assert "0 results found" in event.lab.asterisk("database show registrar/contact")


def test_second_teardown_has_nothing_to_do(event):
    run = event.run("teardown.py", "-v")
    assert run.returncode == 0, run.output
    assert "no phone's settings changed: no NOTIFY sent" in run.output
    assert "NixOS already serves this Asterisk config" in run.output
    assert "no contact of the event is left" in run.output
    assert "no account and no contact of the event is left on the PBX" in run.output
