"""Phones against the lab: zero-touch snom provisioning through televoc's provisioning server,
adopt, resync of changed phones only, what the provisioning server gives to whom, and what
the phones get besides their account: a ringer per alert class, auto-answer for an intercom
(answer_after_policy), and the directory (the tbook in their settings, or directory.xml
from the provisioning server beyond 100 entries).
Simulated snom phones (lab/snomsim.py: pyVoIP registering with exactly what they
fetched from the PBX) behave as the snom docs describe.

The module's fixture does the buildup (deploy, phones plugged in, adopt, deploy); each test
then looks at one side of it, and passes alone too. Teardown: test_teardown.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.callee import Dial
from lab.deploys import Run, passwords, run_pyinfra, write_inventory
from lab.lab import Lab
from lab.snom import SnomFleet, SnomPhone
from lab.wait import wait_for
from roles.shared import packed
from roles.shared import pbxcli as cli
from roles.shared.pbxfacts import AsteriskState

URL = "http://127.0.0.1:8088/televoc/{mac}.xml"
PHONES = {  # name: (MAC, own loopback address, SIP port); web interfaces on port 80
    "hall1": ("000413A00001", "127.0.0.11", 5061),
    "hall2": ("000413A00002", "127.0.0.12", 5062),
    "desk": ("000413A00003", "127.0.0.13", 5063),
}
PROVISIONING = "/var/lib/televoc-phones"
ACCESS_LOG = "/var/log/televoc-provisioning/access.log"
STATE = "/var/lib/televoc-provisioning/state.json"


@dataclass
class Event:
    lab: Lab
    fleet: SnomFleet
    directory: Path
    secret: Path
    inventory: Path
    adopt: Run | None = None
    buildup: Run | None = None
    first: Run | None = None

    def run(self, deploy: str, *args: str):
        return run_pyinfra(self.inventory, deploy, self.directory, self.secret, *args)

    def state(self, name: str) -> dict:
        return self.fleet.state(PHONES[name][0])

    def get(self, path: str, source: str = "127.0.0.1") -> str:
        """HTTP status of a GET of the provisioning server, from `source` (in the lab)."""
        return self.lab.run(
            f"curl -s -o /dev/null --interface {source} -w '%{{http_code}}' http://127.0.0.1:8088{path}"
        ).stdout

    def log(self) -> str:
        return self.lab.run(f"cat {ACCESS_LOG}").stdout


def write_directory(directory: Path, hall2_name: str = "Hall 2", hall2_ringer: str = "Ringer1", extra: int = 0) -> None:
    """The event: three provisioned phones, and `extra` phones set up by hand (x001, ...: more
    directory entries)."""
    directory.mkdir(exist_ok=True)
    (directory / "event.yml").write_text("name: phones-test\nnetwork: 127.0.0.0/27\npbx_address: 127.0.0.1\n")
    (directory / "phones.yml").write_text(
        textwrap.dedent(f"""\
        phones:
          - {{name: hall1, extension: 2001, display_name: Hall 1, mac: "{PHONES["hall1"][0]}", model: snom320}}
          - {{name: hall2, extension: 2002, display_name: {hall2_name}, mac: "{PHONES["hall2"][0]}", model: snom300,
              ringer: {hall2_ringer}}}
          - {{name: desk, extension: 2003, display_name: Desk, mac: "{PHONES["desk"][0]}", model: snom320,
              address: "{PHONES["desk"][1]}", ringer: Silent, group_ringer: Ringer4, loud_ringer: Ringer9}}
        """)
        + "".join(f"  - {{name: x{i:03d}, extension: {3000 + i}}}\n" for i in range(1, extra + 1))
    )
    # hall1 and desk answer each other's intercom calls by themselves (answer_after_policy)
    (directory / "services.yml").write_text("intercom:\n  - {name: desk-hall1, number: 2801, phones: [desk, hall1]}\n")


def restored(event: Event) -> None:
    """The buildup's directory, deployed again, phones told (the next test starts from it)."""
    write_directory(event.directory)
    run = event.run("deploy.py", "--data", "televoc_register_wait=30")
    assert run.returncode == 0, run.output


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
        event.first = first
        fleet.start(
            [
                SnomPhone(mac, port, 80, URL if name != "desk" else None, ip=ip)
                for name, (mac, ip, port) in PHONES.items()
            ]
        )
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
        assert re.search(
            rf"^\s*{name}\s+\d+\s+sip:{name}@{re.escape(ip)}:{port}\S*\s+Avail", event.buildup.output, re.M
        )
    assert event.state("desk")["settings"]["user_ringer.1"] == "Silent"


def started(run: Run) -> list[str]:
    """The operations a run started, in its order (pyinfra's `--> Starting operation:` lines)."""
    return re.findall(r"^--> Starting operation: (.+?)\s*$", run.output, re.M)


def position(operations: list[str], prefix: str) -> int:
    return next(i for i, name in enumerate(operations) if name.startswith(prefix))


def test_a_first_deploy_publishes_settings_while_asterisk_starts_a_later_run_once_it_serves(event):
    """Asterisk did not run when the first deploy began (nothing served the phones): the
    phones' settings go up while it starts. Once it runs, a run publishes only after Asterisk
    serves the new config, so that a config it rejects leaves the phones their settings."""
    published = "Provisioning | Provisioning files of 3 snom phones are published"
    assert event.first is not None
    first = started(event.first)
    assert position(first, published) < position(first, "PBX | Asterisk is running"), first
    write_directory(event.directory, hall2_name="Hall Two")  # Asterisk's callerid and hall2's settings
    try:
        run = event.run("deploy.py", "--data", "televoc_register_wait=30")
        assert run.returncode == 0, run.output
        later = started(run)
        assert position(later, "PBX | Asterisk serves config generation") < position(later, published), later
    finally:
        restored(event)


def test_the_aors_listed_in_slices_are_the_aors_listed_whole(event):
    """From 3,000 phones on, Asterisk's state lists the aors in slices by the last character
    of their name (roles/shared/pbxcli.py); below, whole. On the same Asterisk, with the
    phones registered, both give every aor, every contact and every full URI alike."""

    def state(aors: int | None) -> cli.PbxState:
        raw = event.lab.run(AsteriskState().command("asterisk -C /etc/asterisk/asterisk.conf", aors=aors)).stdout
        return cli.parse_state(packed.lines(raw.splitlines()))

    sliced, whole = state(None), state(3)
    assert sliced.running and sliced.generation is not None
    assert sliced.aors == whole.aors and sliced.phone_aors() == {"hall1", "hall2", "desk"}
    assert {(c.aor, c.uri) for c in sliced.contacts} == {(c.aor, c.uri) for c in whole.contacts}
    assert sliced.registered == whole.registered == {"hall1", "hall2", "desk"}


def fetched_xml(event: Event, name: str) -> str:
    """The settings file the phone fetched last: the published one, proven by the version the
    provisioning server logged as served to the phone's address."""
    mac, ip, _ = PHONES[name]
    text = (event.lab.root / PROVISIONING.lstrip("/") / f"{mac}.xml").read_text()
    served = re.findall(rf"served {mac} version ([0-9a-f]{{16}}) to {re.escape(ip)}$", event.log(), re.M)
    assert served and served[-1] == hashlib.sha256(text.encode()).hexdigest()[:16], (served, name)
    return text


def test_a_phone_rings_per_alert_class_with_its_own_ringers(event):
    hall1, desk = event.state("hall1")["settings"], event.state("desk")["settings"]
    for settings in (hall1, desk):
        assert settings["alert_info_playback"] == "off"  # never fetches the Alert-Info URL
        assert (
            settings["alert_internal_ring_text"],
            settings["alert_external_ring_text"],
            settings["alert_group_ring_text"],
        ) == ("televoc-direct", "televoc-group", "televoc-loud")
    assert (
        hall1["alert_internal_ring_sound"],
        hall1["alert_external_ring_sound"],
        hall1["alert_group_ring_sound"],
    ) == ("Ringer1", "Ringer1", "Ringer1")
    assert (desk["alert_internal_ring_sound"], desk["alert_external_ring_sound"], desk["alert_group_ring_sound"]) == (
        "Silent",
        "Ringer4",
        "Ringer9",
    )


def test_a_phone_an_intercom_reaches_answers_it_by_itself_and_rings_for_other_calls(event):
    policy = {name: event.state(name)["settings"].get("answer_after_policy") for name in PHONES}
    assert policy == {"hall1": "idle", "hall2": "off", "desk": "idle"}, policy
    password = passwords(event.directory, event.secret)["hall1"]
    intercom = Dial.start(event.lab, "hall1", password, "2801", 5190, hold=1, timeout=20)
    intercom.wait(timeout=40)
    assert intercom.first(200) is not None, f"desk did not answer the intercom: {intercom.final()}"
    assert event.state("desk")["auto_answered"] == 1
    assert "info=alert-autoanswer" in (event.state("desk")["last_invite_alert_info"] or "")
    plain = Dial.start(event.lab, "hall1", password, "2003", 5191, hold=1, timeout=20)
    plain.wait(timeout=40)
    assert plain.final() is not None and plain.final().status == 486, plain.final()  # (the simulator's busy)
    assert event.state("desk")["auto_answered"] == 1, "desk answered a plain call by itself"


def test_a_phones_fetched_settings_hold_the_directory_as_its_tbook(event):
    for name in PHONES:
        root = ET.fromstring(fetched_xml(event, name))
        book = root.find("tbook")
        assert book is not None and book.get("complete") == "true"
        assert [(i.get("index"), i.findtext("name"), i.findtext("number")) for i in book.findall("item")] == [
            ("0", "Desk", "2003"),
            ("1", "Hall 1", "2001"),
            ("2", "Hall 2", "2002"),
        ]
        assert event.state(name)["settings"]["dkey_directory"] == "keyevent F_ADR_BOOK"


def test_provisioning_files_are_readable_by_the_provisioning_server_only(event):
    listing = event.lab.run(f"stat -c '%a %U %G %n' {PROVISIONING} {PROVISIONING}/*.xml").stdout.splitlines()
    assert listing[0].split()[:3] == ["750", "root", "televoc-provisioning"]
    assert all(line.split()[:3] == ["640", "root", "televoc-provisioning"] for line in listing[1:]), listing
    assert sorted(line.split("/")[-1] for line in listing[1:]) == sorted(
        [*(f"{mac}.xml" for mac, _, _ in PHONES.values()), "directory.xml", "directory-yealink.xml"]
    )
    for name in PHONES:
        password = event.state(name)["settings"]["user_pass.1"]
        assert len(password) == 24
        found = event.lab.run(f"grep -rlF -- '{password}' /nix/store /etc/nixos /var/log || true").stdout.strip()
        assert found == "", f"{name}'s password is in {found}"


def test_every_fetch_and_every_refusal_is_logged_with_its_source(event):
    assert event.get("/televoc/000413FFFFFE.xml", source="127.0.0.20") == "404"
    assert event.get("/static/televoc/000413A00001.xml", source="127.0.0.20") == "404"
    log = event.log()
    for mac, ip, _ in PHONES.values():
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
    assert (
        "hall2: its settings (passwords included) were fetched by 127.0.0.25, but the phone is at 127.0.0.12"
    ) in run.output


def sweep_from_many_addresses(event: Event, block: int) -> None:
    """128 unknown MACs (the global ceiling) from 16 addresses 127.0.<block>.100-115, 8 each:
    every address a sweeper at its 8th, the last MAC locks. One shell loop in the lab."""
    event.lab.run(
        f"for i in $(seq 0 127); do curl -s -o /dev/null --interface 127.0.{block}.$((100 + i / 8)) "
        f"http://127.0.0.1:8088/televoc/$(printf '000413E{block}%04X' $i).xml; done"
    )


def test_guessing_macs_from_many_addresses_locks_the_provisioning_server_until_the_crew_lifts_it(event):
    """The global ceiling (128 unknown MACs; the earlier tests' count too) from 16 addresses,
    each refused as a sweeper at its 8th: the lock says how the crew lifts it on the PBX."""
    hall1 = f"/televoc/{PHONES['hall1'][0]}.xml"
    try:
        sweep_from_many_addresses(event, 0)
        log = event.log()
        assert "LOCKED: 128 unknown MACs asked for by 127.0.0.100, 127.0.0.101" in log
        assert "until the crew lifts the lock on the PBX: touch /var/lib/televoc-provisioning/unlock" in log
        rearm = event.run("deploy.py", "--data", "televoc_rearm=hall1")
        assert rearm.returncode != 0
        assert "the provisioning server is LOCKED (128 unknown MACs asked for by 127.0.0.100" in rearm.output
        assert "as root: touch /var/lib/televoc-provisioning/unlock (within a second, no deploy" in rearm.output
        assert "televoc_provisioning_unlock=true" in rearm.output
        assert re.search(
            r"the provisioning server refuses 1[56] addresses for sweeping MACs: 127\.0\.0\.100 \(8 unknown MACs",
            rearm.output,
        ), rearm.output
        assert event.get(hall1, source="127.0.0.11") == "403"  # even the phone

        # The crew, on the PBX: one command, no deploy. The sweepers stay refused.
        event.lab.run("touch /var/lib/televoc-provisioning/unlock")
        wait_for(lambda: event.get(hall1, source="127.0.0.11") == "200", 10, "the crew's unlock")
        assert not (event.lab.root / "var/lib/televoc-provisioning/unlock").exists()
        log = event.log()
        assert "unlocked by the crew on the PBX (the unlock file); still refused for sweeping: 127.0.0.100" in log
        assert event.get(hall1, source="127.0.0.100") == "403"
        assert "refused 403 sweeping (8 unknown MACs within 24 h, refused until unlocked): " in event.log()

        # Locked again; the deploy's unlock lifts it and forgives the sweepers.
        sweep_from_many_addresses(event, 1)
        assert event.get(hall1, source="127.0.0.11") == "403"
        unlock = event.run(
            "deploy.py", "--data", "televoc_provisioning_unlock=true", "--data", "televoc_register_wait=5"
        )
        assert unlock.returncode == 0, unlock.output
        assert event.get(hall1, source="127.0.0.11") == "200"  # its window, from its own address
        assert "unlocked by the deploy; no longer refused for sweeping: 127.0.0.100" in event.log()
        assert event.get(hall1, source="127.0.0.100") == "403"  # fetched already by the phone, not a sweeper
        assert re.search(
            r"refused 403 fetched already by 127\.0\.0\.11: \w+ version \w+ from 127\.0\.0\.100$",
            event.log(),
            re.M,
        )
    finally:  # the next tests need a server that serves
        event.lab.run("touch /var/lib/televoc-provisioning/unlock")


def test_an_account_works_only_from_the_phone_network(event):
    settings = event.state("hall1")["settings"]
    password = settings["user_pass.1"]
    assert not event.lab.register("hall1", password, 5099, local_ip="127.0.0.77"), "accepted from outside 127.0.0.0/27"
    assert event.lab.register("hall1", password, 5099, local_ip="127.0.0.20"), "refused from inside the network"
    event.lab.unregister("hall1", password, 5099, local_ip="127.0.0.20")
    mac = PHONES["hall1"][0]  # the phone takes its registration back after a reboot
    assert event.fleet.web(mac, "/advanced_update.htm?reboot=Reboot", ("admin", settings["http_pass"])) == 200
    event.fleet.wait(mac, lambda s: s["reboots"] >= 1 and s["registered"], what="hall1 rebooted")
    wait_for(
        lambda: "hall1/sip:hall1@127.0.0.11" in event.lab.asterisk("pjsip show contacts"),
        15,
        "hall1 to register again after its reboot",
    )


def test_changing_a_phone_only_setting_resyncs_that_phone_only(event):
    before = {name: event.state(name) for name in PHONES}
    write_directory(event.directory, hall2_ringer="Ringer5")
    try:
        run = event.run("deploy.py")
        assert run.returncode == 0, run.output
        assert "~ hall2 (2002): ringer 'Ringer1' -> 'Ringer5'" in run.output
        assert "told to fetch their settings (televoc-check-sync): hall2" in run.output
        assert "the directory changed" not in run.output
        hall2 = event.fleet.wait(
            PHONES["hall2"][0],
            lambda s: (
                s["notifies"] == before["hall2"]["notifies"] + 1
                and s["settings"].get("alert_internal_ring_sound") == "Ringer5"
            ),
            what="hall2 re-provisioned",
        )
        assert hall2["fetches"] > before["hall2"]["fetches"]
        assert hall2["settings"]["user_ringer.1"] == hall2["settings"]["alert_external_ring_sound"] == "Ringer5"
        for name in ("hall1", "desk"):
            assert event.state(name)["notifies"] == before[name]["notifies"], f"{name} was notified too"
        again = event.run("deploy.py", "-v")
        assert "no phone's settings changed: no NOTIFY sent" in again.output
        assert event.state("hall2")["notifies"] == hall2["notifies"]
    finally:
        restored(event)


def inodes(event: Event) -> dict[str, str]:
    """The published files' inode numbers (file name -> inode): a file written again gets a new one."""
    out = event.lab.run(f"cd {PROVISIONING} && stat -c '%n %i' *").stdout
    return dict(line.split() for line in out.splitlines())


def test_a_change_writes_the_changed_files_only_and_a_file_changed_by_hand_is_published_again(event):
    """Only the changed phone's file goes up: the others stay the very files served (the same
    inodes, linked into the new directory). A served file changed by hand (or removed) no
    longer matches the published manifest: the next change publishes every file again, says
    so, and the hand's change is gone. A file or link no phone has is removed."""
    hall1, hall2 = PHONES["hall1"][0] + ".xml", PHONES["hall2"][0] + ".xml"
    before = inodes(event)
    write_directory(event.directory, hall2_ringer="Ringer6")
    try:
        run = event.run("deploy.py")
        assert run.returncode == 0, run.output
        after = inodes(event)
        assert after[hall2] != before[hall2], "hall2's changed file was not written"
        assert {n: i for n, i in after.items() if n != hall2} == {n: i for n, i in before.items() if n != hall2}
        assert "published again" not in run.output

        event.lab.run(f"touch {PROVISIONING}/stray.xml && ln -s /etc/passwd {PROVISIONING}/linked.xml")
        write_directory(event.directory, hall2_ringer="Ringer7")
        pruned = event.run("deploy.py")
        assert pruned.returncode == 0, pruned.output
        assert "published again" not in pruned.output
        assert "stray.xml" not in inodes(event) and "linked.xml" not in inodes(event)

        event.lab.run(f"echo '<!-- by hand -->' >> {PROVISIONING}/{hall1}")
        write_directory(event.directory, hall2_ringer="Ringer8")
        again = event.run("deploy.py")
        assert again.returncode == 0, again.output
        assert "the served provisioning files are not the ones last published" in again.output, again.output
        assert "by hand" not in event.lab.run(f"cat {PROVISIONING}/{hall1}").stdout
        manifest = event.lab.run(
            f"cd {PROVISIONING} && sha256sum -c --quiet /var/lib/televoc/provisioning.manifest", check=False
        )
        assert manifest.returncode == 0, manifest.stdout + manifest.stderr
    finally:
        restored(event)


def test_a_directory_change_resyncs_every_provisioned_phone_and_says_so_once(event):
    """A display name is in every phone's tbook: every provisioned phone fetches its settings
    again, and the run says so in one line, not phone by phone."""
    before = {name: event.state(name) for name in PHONES}
    write_directory(event.directory, hall2_name="Hall Two")
    try:
        dry = run_pyinfra(event.inventory, "deploy.py", event.directory, event.secret, "--dry", yes=False)
        assert dry.returncode == 0, dry.output
        assert "will change: ~ hall2 (2002): display_name 'Hall 2' -> 'Hall Two'" in dry.output, dry.output
        assert dry.output.count("will change: the directory changed: 3 provisioned phones resync") == 1
        assert "told to fetch their settings" not in dry.output
        run = event.run("deploy.py")
        assert run.returncode == 0, run.output
        assert "~ hall2 (2002): display_name 'Hall 2' -> 'Hall Two'" in run.output
        assert run.output.count("the directory changed: 3 provisioned phones resync") == 1, run.output
        assert "the directory changed: 3 provisioned phones resync: 3 registered, told to fetch" in run.output
        assert "told to fetch their settings: " not in run.output  # no list of names
        assert not re.search(r"told to fetch their settings \(televoc-check-sync\): \w", run.output)
        for name, (mac, _, _) in PHONES.items():
            state = event.fleet.wait(
                mac,
                lambda s, n=name: s["notifies"] == before[n]["notifies"] + 1 and s["fetches"] > before[n]["fetches"],
                what=f"{name} re-provisioned",
            )
            assert state["registered"]
        assert event.state("hall2")["settings"]["user_realname.1"] == "Hall Two"
        book = ET.fromstring(fetched_xml(event, "hall1")).find("tbook")
        assert [i.findtext("name") for i in book.findall("item")] == ["Desk", "Hall 1", "Hall Two"]
        again = event.run("deploy.py", "-v")
        assert "no phone's settings changed: no NOTIFY sent" in again.output
        assert "the directory changed" not in again.output
    finally:
        restored(event)


def test_beyond_100_entries_the_phones_fetch_directory_xml_from_the_provisioning_server(event):
    write_directory(event.directory, extra=98)  # 101 entries
    try:
        run = event.run("deploy.py", "--data", "televoc_verify=report")  # the 98 are not plugged in
        assert run.returncode == 0, run.output
        assert "the directory changed: 3 provisioned phones resync" in run.output  # their tbook goes
        url = "url http://127.0.0.1:8088/televoc/directory.xml"
        for name, (mac, _, _) in PHONES.items():
            event.fleet.wait(mac, lambda s: s["settings"].get("dkey_directory") == url, what=f"{name}'s directory key")
            book = ET.fromstring(fetched_xml(event, name)).find(
                "tbook"
            )  # emptied: nothing left from a smaller directory
            assert book is not None and book.get("complete") == "true" and list(book) == []
        fetch = event.lab.run(
            "curl -s --interface 127.0.0.22 -w '\n%{http_code}' http://127.0.0.1:8088/televoc/directory.xml"
        ).stdout
        body, status = fetch.rsplit("\n", 1)
        assert status == "200", fetch
        root = ET.fromstring(body)
        assert root.tag == "SnomIPPhoneDirectory" and root.findtext("Title") == "phones-test"
        listed = [(e.findtext("Name"), e.findtext("Telephone")) for e in root.findall("DirectoryEntry")]
        assert len(listed) == 101 and listed[:3] == [("Desk", "2003"), ("Hall 1", "2001"), ("Hall 2", "2002")]
        assert event.get("/televoc/directory.xml", source="127.0.0.11") == "200"  # again, from a phone
        yealink = event.lab.run(
            "curl -s --interface 127.0.0.22 -w '\n%{http_code}' http://127.0.0.1:8088/televoc/directory-yealink.xml"
        ).stdout
        body_yealink, status = yealink.rsplit("\n", 1)
        assert status == "200", yealink
        root = ET.fromstring(body_yealink)
        assert root.tag == "YealinkIPPhoneDirectory"
        assert [(e.findtext("Name"), e.findtext("Telephone")) for e in root.findall("DirectoryEntry")] == listed
        version = hashlib.sha256(body.encode()).hexdigest()[:16]
        log = event.log()
        for source in ("127.0.0.22", "127.0.0.11"):
            assert f"served directory.xml version {version} to {source}" in log, log[-2000:]
        state = json.loads((event.lab.root / STATE.lstrip("/")).read_text())
        assert "127.0.0.22" not in state["refused"]  # nothing fail2ban would count
        assert not any(u["source"] == "127.0.0.22" for u in state["unknown"].values())  # no MAC guess
    finally:
        restored(event)


def test_a_phone_named_in_a_pending_file_with_garbage_is_still_told(event):
    before = event.state("hall1")["notifies"]
    (event.lab.root / "var/lib/televoc/notify-pending").write_bytes(b"\xff\xfe\x00half-writ\nhall1\n\x80\n")
    run = event.run("deploy.py", "--data", "televoc_register_wait=5")
    assert run.returncode == 0, run.output
    assert "told to fetch their settings (televoc-check-sync): hall1" in run.output
    event.fleet.wait(PHONES["hall1"][0], lambda s: s["notifies"] == before + 1, what="hall1 told")
    assert not (event.lab.root / "var/lib/televoc/notify-pending").exists()
