"""Phones against the lab: zero-touch snom provisioning through televoc's provisioning server,
adopt, resync of changed phones only, and what the provisioning server gives to whom.
Simulated snom phones (tests/lab/snomsim.py: pyVoIP registering with exactly what they
fetched from the PBX) behave as the snom docs describe.

The module's fixture does the buildup (deploy, phones plugged in, adopt, deploy); each test
then looks at one side of it, and passes alone too. Teardown: test_teardown.py.
"""

from __future__ import annotations

import re
import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.deploys import Run, run_pyinfra, write_inventory
from tests.lab.lab import Lab
from tests.lab.snom import SnomFleet, SnomPhone
from tests.lab.wait import wait_for

URL = "http://127.0.0.1:8088/televoc/{mac}.xml"
PHONES = {  # name: (MAC, own loopback address, SIP port); web interfaces on port 80
    "hall1": ("000413A00001", "127.0.0.11", 5061),
    "hall2": ("000413A00002", "127.0.0.12", 5062),
    "desk": ("000413A00003", "127.0.0.13", 5063),
}
PROVISIONING = "/var/lib/televoc-phones"
ACCESS_LOG = "/var/log/televoc-provisioning/access.log"


@dataclass
class Event:
    lab: Lab
    fleet: SnomFleet
    directory: Path
    secret: Path
    inventory: Path
    adopt: Run | None = None
    buildup: Run | None = None

    def run(self, deploy: str, *args: str):
        return run_pyinfra(self.inventory, deploy, self.directory, self.secret, *args)

    def state(self, name: str) -> dict:
        return self.fleet.state(PHONES[name][0])

    def get(self, path: str, source: str = "127.0.0.1") -> str:
        """HTTP status of a GET of the provisioning server, from `source` (in the lab)."""
        return self.lab.run(f"curl -s -o /dev/null --interface {source} -w '%{{http_code}}' "
                            f"http://127.0.0.1:8088{path}").stdout

    def log(self) -> str:
        return self.lab.run(f"cat {ACCESS_LOG}").stdout


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
    """Buildup day: deploy, plug the phones in (hall1 and hall2 get the URL by DHCP option 66,
    desk gets nothing and is adopted), deploy again until every phone is registered."""
    work = tmp_path_factory.mktemp("phones")
    lab = Lab(work / "lab")
    lab.up()
    fleet = SnomFleet(lab, work / "snom")
    try:
        write_directory(work / "event")
        secret = work / "event.secret"
        secret.write_text(secrets.token_urlsafe(48) + "\n")
        secret.chmod(0o600)  # televoc refuses a secret others can read
        inventory = write_inventory(work / "inventory.py", lab.pyinfra_host_data())
        event = Event(lab, fleet, work / "event", secret, inventory)
        first = event.run("deploy.py", "--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert first.returncode == 0, first.output
        fleet.start([
            SnomPhone(mac, port, 80, URL if name != "desk" else None, ip=ip)
            for name, (mac, ip, port) in PHONES.items()
        ])
        event.adopt = event.run("adopt.py")
        event.buildup = event.run("deploy.py", "--data", "televoc_register_wait=30")
        yield event
    finally:
        fleet.stop()
        lab.down()


def test_phones_provision_themselves_and_register_with_no_credential_typed(event):
    assert event.adopt.returncode == 0, event.adopt.output
    assert "desk: adopted (setting_server set, rebooting): answered at 127.0.0.13" in event.adopt.output
    assert event.buildup.returncode == 0, event.buildup.output
    assert "all 3 phones are registered" in event.buildup.output
    for name, (mac, ip, port) in PHONES.items():
        state = event.fleet.wait(mac, lambda s: s["registered"], what=f"{name} registered")
        assert state["registered_as"] == name
        assert re.search(rf"^\s*{name}\s+\d+\s+sip:{name}@{re.escape(ip)}:{port}\S*\s+Avail", event.buildup.output, re.M)
    assert event.state("desk")["settings"]["user_ringer.1"] == "Silent"


def test_provisioning_files_are_readable_by_the_provisioning_server_only(event):
    listing = event.lab.run(f"stat -c '%a %U %G %n' {PROVISIONING} {PROVISIONING}/*.xml").stdout.splitlines()
    assert listing[0].split()[:3] == ["750", "root", "televoc-provisioning"]
    assert all(line.split()[:3] == ["640", "root", "televoc-provisioning"] for line in listing[1:]), listing
    assert len(listing) == 4
    for name in PHONES:
        password = event.state(name)["settings"]["user_pass.1"]
        assert len(password) == 24
        found = event.lab.run(f"grep -rlF -- '{password}' /nix/store /etc/nixos /var/log || true").stdout.strip()
        assert found == "", f"{name}'s password is in {found}"


def test_every_fetch_and_every_refusal_is_logged_with_its_source(event):
    assert event.get("/televoc/000413FFFFFE.xml", source="127.0.0.20") == "404"
    assert event.get("/static/televoc/000413A00001.xml", source="127.0.0.20") == "404"
    log = event.log()
    for name, (mac, ip, _) in PHONES.items():
        assert re.search(rf"served {mac} version [0-9a-f]{{16}} to {re.escape(ip)}$", log, re.M), log
    assert "refused 404 unknown MAC 000413FFFFFE from 127.0.0.20" in log
    assert "refused 404 path '/static/televoc/000413A00001.xml' from 127.0.0.20" in log


def test_a_phones_settings_are_not_given_to_another_address_once_fetched(event):
    assert event.get(f"/televoc/{PHONES['hall1'][0]}.xml", source="127.0.0.20") == "403"
    assert "refused 403 fetched already by 127.0.0.11" in event.log()
    run = event.run("deploy.py", "--data", "televoc_register_wait=5")
    assert run.returncode == 0, run.output
    assert "the provisioning server refused requests from: 127.0.0.20" in run.output


def test_a_fetch_from_another_address_than_the_phones_is_reported(event):
    rearm = event.run("deploy.py", "--data", "televoc_rearm=hall2", "--data", "televoc_register_wait=5")
    assert rearm.returncode == 0, rearm.output
    assert event.get(f"/televoc/{PHONES['hall2'][0]}.xml", source="127.0.0.25") == "200"  # before the phone
    run = event.run("deploy.py", "--data", "televoc_register_wait=5")
    assert run.returncode == 0, run.output
    assert ("hall2: its settings (passwords included) were fetched by 127.0.0.25, but the phone is at "
            "127.0.0.12") in run.output


def test_guessing_macs_locks_the_provisioning_server_until_the_crew_unlocks_it(event):
    for i in range(32):  # a sweep: every guess from another address
        event.get(f"/televoc/000413EE{i:04X}.xml", source=f"127.0.0.{100 + i}")
    assert "LOCKED: 32 unknown MACs asked for by 127.0.0.100" in event.log()
    rearm = event.run("deploy.py", "--data", "televoc_rearm=hall1")
    assert rearm.returncode != 0
    assert "the provisioning server is LOCKED (32 unknown MACs asked for by 127.0.0.100" in rearm.output
    assert "televoc_provisioning_unlock=true" in rearm.output
    assert event.get(f"/televoc/{PHONES['hall1'][0]}.xml", source="127.0.0.11") == "403"  # even the phone

    unlock = event.run("deploy.py", "--data", "televoc_provisioning_unlock=true", "--data", "televoc_register_wait=5")
    assert unlock.returncode == 0, unlock.output
    assert event.get(f"/televoc/{PHONES['hall1'][0]}.xml", source="127.0.0.11") == "200"
    assert "unlocked by the deploy" in event.log()


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
    try:
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
    finally:
        write_directory(event.directory)


def test_a_phone_named_in_a_pending_file_with_garbage_is_still_told(event):
    before = event.state("hall1")["notifies"]
    (event.lab.root / "var/lib/televoc/notify-pending").write_bytes(b"\xff\xfe\x00half-writ\nhall1\n\x80\n")
    run = event.run("deploy.py", "--data", "televoc_register_wait=5")
    assert run.returncode == 0, run.output
    assert "told to fetch their settings (televoc-check-sync): hall1" in run.output
    event.fleet.wait(PHONES["hall1"][0], lambda s: s["notifies"] == before + 1, what="hall1 told")
    assert not (event.lab.root / "var/lib/televoc/notify-pending").exists()
