"""DECT bases fetch their files from televoc's provisioning server (issue #23): a deploy
publishes them, and simulated snom M700 bases (lab/snombase.py: HTTP GETs with a base's
User-Agent, from the phone network, through the PBX's firewall) boot and fetch them.

    dect-hall    0004136A0001  snomM700, primary: the accounts of crew-anna (slot 1), crew-ben (2)
    dect-foyer   0004136A0002  snomM700, secondary of dect-hall: no account
    dect-office  0004136A0003  snomM300, single cell: office (slot 1); never boots here

The primary gets exactly its handsets' accounts (and registers them on the real Asterisk
from its address), the secondary none; another address gets nothing of the primary's
settings, and no base request counts as an unknown MAC or a refusal. After a handset is
added, the deploy names the primary and its next boot gets the new account. Last, an
address guessing bases' MACs through their lists is refused at its 8th and banned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.deploys import Deployment, Run
from lab.lab import Lab
from lab.wait import wait_for

PBX = "10.23.0.2"
HALL_IP, FOYER_IP, OTHER_IP, SWEEPER_IP = "10.23.0.31", "10.23.0.32", "10.23.0.33", "10.23.0.68"
SWEEP_JAIL = "televoc-mac-sweep"
HALL, FOYER = "0004136A0001", "0004136A0002"
SERVER = f"http://{PBX}:8088/televoc/"
ACCESS_LOG = "/var/log/televoc-provisioning/access.log"
STATE = "/var/lib/televoc-provisioning/state.json"
DECT = """\
bases:
  - {name: dect-hall, model: snomM700, mac: "00:04:13:6a:00:01", location: Hall A}
  - {name: dect-foyer, model: snomM700, mac: "00:04:13:6a:00:02", primary: dect-hall}
  - {name: dect-office, model: snomM300, mac: "00:04:13:6a:00:03"}
"""
PHONES = """\
phones:
  - {name: hall1, extension: 2001, mac: '000413A00001', model: snom320}
  - {name: crew-anna, extension: 2101, base: dect-hall, slot: 1}
  - {name: crew-ben, extension: 2102, base: dect-hall, slot: 2}
  - {name: office, extension: 2103, base: dect-office, slot: 1}
"""


class Pbx(Deployment):
    def log(self) -> str:
        return self.lab.run(f"cat {ACCESS_LOG}").stdout

    def state(self) -> dict:
        return json.loads(self.lab.run(f"cat {STATE}").stdout)


@dataclass
class Boot:
    fetched: list  # [url, status] in order
    settings: dict  # "NAME.IDX" -> value, as the base holds them after the boot


@dataclass
class Dect:
    pbx: Pbx
    first: Run
    hall: Boot
    foyer: Boot
    other: Boot  # another address asking for dect-hall's files after it
    report: Run  # a deploy after the boots
    published: tuple[str, str]  # the served directory's inode before and after it
    added: Run  # a deploy after crew-cleo was added on dect-hall (slot 3)
    again: Boot  # dect-hall booting after that deploy


def boot(lab: Lab, mac: str, ip: str) -> Boot:
    run = lab.python_phone(["-m", "lab.snombase", "--server", SERVER, "--model", "snomM700", "--mac", mac, "--ip", ip])
    found = json.loads(run.stdout)
    return Boot(found["fetched"], found["settings"])


def accounts(settings: dict) -> dict[int, tuple[str, str]]:
    """slot -> (user_name, user_pass) of every active account a base holds."""
    return {
        int(key.split(".")[1]): (
            settings.get(f"user_name.{key.split('.')[1]}", ""),
            settings.get(f"user_pass.{key.split('.')[1]}", ""),
        )
        for key, value in settings.items()
        if key.startswith("user_active.") and value == "on"
    }


@pytest.fixture(scope="module")
def dect(tmp_path_factory):
    tmp_path: Path = tmp_path_factory.mktemp("dect")
    with Lab(tmp_path / "lab") as lab:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text(f"name: dect\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n")
        (event / "phones.yml").write_text(PHONES)
        (event / "dect.yml").write_text(DECT)
        pbx = Pbx.prepare(lab, tmp_path, event)
        first = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert first.returncode == 0, first.output
        for address in (HALL_IP, FOYER_IP, OTHER_IP):
            lab.phone_address(address)
        wait_for(
            lambda: lab.http_status_phone(OTHER_IP, f"{SERVER}directory.xml") == "200", 30, "the provisioning server"
        )
        hall = boot(lab, HALL, HALL_IP)
        foyer = boot(lab, FOYER, FOYER_IP)
        other = boot(lab, HALL, OTHER_IP)
        before = lab.run("stat -c %i /var/lib/televoc-phones").stdout
        report = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        after = lab.run("stat -c %i /var/lib/televoc-phones").stdout
        pbx.edit_phones(
            lambda phones: phones.append({"name": "crew-cleo", "extension": 2104, "base": "dect-hall", "slot": 3})
        )
        added = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        again = boot(lab, HALL, HALL_IP)
        yield Dect(pbx, first, hall, foyer, other, report, (before, after), added, again)


def test_the_deploy_publishes_the_bases_files_without_printing_a_password(dect):
    output = dect.first.output
    assert "Provisioning files of 1 snom phones are published (and of 3 DECT bases)" in output
    assert "DECT bases whose settings changed: dect-hall, dect-foyer, dect-office: a base with a handset" in output
    assert not any(p in output for p in dect.pbx.passwords().values())
    listing = dect.pbx.lab.run("ls -l /var/lib/televoc-phones").stdout
    for name in ("snomM700.htm", "snomM300.htm", f"snomM700-{HALL}.htm", f"{HALL}.xml", f"{FOYER}.xml"):
        line = next((x for x in listing.splitlines() if x.endswith(f" {name}")), "")
        assert re.match(r"^-rw-r----- +1 root +televoc-provisioning ", line), listing


def test_the_primary_fetches_its_three_files_and_holds_exactly_its_handsets_accounts(dect):
    assert dect.hall.fetched == [
        [f"{SERVER}snomM700.htm", 200],
        [f"{SERVER}snomM700-{HALL}.htm", 200],
        [f"{SERVER}{HALL}.xml", 200],
    ]
    passwords = dect.pbx.passwords()
    assert accounts(dect.hall.settings) == {
        1: ("crew-anna", passwords["crew-anna"]),
        2: ("crew-ben", passwords["crew-ben"]),
    }
    assert dect.hall.settings["user_host.1"] == f"{PBX}:5060"
    held = set(dect.hall.settings.values())
    assert passwords["office"] not in held and passwords["hall1"] not in held  # not another base's, not a phone's
    assert dect.hall.settings["setting_server"] == SERVER


def test_the_secondary_fetches_its_files_and_holds_no_account(dect):
    assert [status for _, status in dect.foyer.fetched] == [200, 200, 200]
    assert dect.foyer.fetched[-1][0] == f"{SERVER}{FOYER}.xml"
    assert not any(key.startswith(("user_", "subscr_")) for key in dect.foyer.settings)
    assert not set(dect.pbx.passwords().values()) & set(dect.foyer.settings.values())
    assert dect.foyer.settings["http_pass"] != dect.hall.settings["http_pass"]  # each base its own web password


def test_another_address_gets_the_lists_but_not_the_primarys_settings(dect):
    assert [status for _, status in dect.other.fetched] == [200, 200, 403]
    assert dect.other.settings == {}
    log = dect.pbx.log()
    assert f"refused 403 fetched already by {HALL_IP}: {HALL} version" in log


def test_the_server_logs_each_base_file_and_counts_no_base_as_unknown(dect):
    log = dect.pbx.log()
    for name, ip in ((f"snomM700-{HALL}.htm", HALL_IP), (HALL, HALL_IP), (FOYER, FOYER_IP), ("snomM700.htm", FOYER_IP)):
        assert re.search(rf"served {re.escape(name)} version [0-9a-f]{{16}} to {re.escape(ip)}$", log, re.M), log
    assert not re.search(rf"refused .* from ({re.escape(HALL_IP)}|{re.escape(FOYER_IP)})$", log, re.M), log
    state = dect.pbx.state()
    assert state["unknown"] == {} and state["sweepers"] == {} and state["locked"] is None
    assert state["fetches"][HALL]["source"] == HALL_IP and state["fetches"][FOYER]["source"] == FOYER_IP
    assert not any(p in log for p in dect.pbx.passwords().values())


def test_the_handset_accounts_register_from_the_base_with_what_it_fetched(dect):
    lab = dect.pbx.lab
    for slot, port in ((1, 5131), (2, 5132)):
        user, password = accounts(dect.hall.settings)[slot]
        assert lab.register(user, password, port, local_ip=HALL_IP), user
        contacts = lab.asterisk("pjsip show contacts")
        assert re.search(rf"{user}/sip:{user}@{re.escape(HALL_IP)}:{port}", contacts), contacts
        assert lab.unregister(user, password, port, local_ip=HALL_IP), user


def test_the_next_deploy_names_who_fetched_the_primarys_settings_and_publishes_nothing_new(dect):
    output = dect.report.output
    assert dect.report.returncode == 0, output
    assert re.search(
        rf"DECT base dect-hall: its settings \(every handset account of its system\) were fetched by "
        rf"{re.escape(HALL_IP)} at \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
        output,
    ), output
    assert "DECT base dect-foyer" not in output  # a secondary's file holds no account
    assert dect.published[0] == dect.published[1]  # nothing changed: the served directory was not swapped
    assert not any(p in output for p in dect.pbx.passwords().values())


def test_a_handset_added_changes_its_bases_settings_and_the_base_gets_them_at_its_next_boot(dect):
    output = dect.added.output
    assert dect.added.returncode == 0, output
    assert "DECT base whose settings changed: dect-hall: a base with a handset registered is told" in output
    assert "DECT base dect-foyer" not in output  # unchanged (dect-office is named as never booted)
    assert [status for _, status in dect.again.fetched] == [200, 200, 200]  # a new version: a new window
    passwords = dect.pbx.passwords()
    assert accounts(dect.again.settings) == {
        1: ("crew-anna", passwords["crew-anna"]),
        2: ("crew-ben", passwords["crew-ben"]),
        3: ("crew-cleo", passwords["crew-cleo"]),
    }
    assert not any(p in output for p in passwords.values())


def test_a_sweep_of_base_lists_is_refused_and_banned_like_a_sweep_of_settings(dect):
    """Last (it bans an address): guessing bases' MACs through their lists counts like guessing
    settings files: 7 404s, the 8th refused as a sweeper, fail2ban's sweep jail bans the
    address from every port; the base keeps being served its lists."""
    lab = dect.pbx.lab
    lab.phone_address(SWEEPER_IP)
    wait_for(
        lambda: "Currently banned" in lab.run(f"fail2ban-client status {SWEEP_JAIL}", check=False).stdout,
        30,
        "fail2ban",
    )
    statuses = [lab.http_status_phone(SWEEPER_IP, f"{SERVER}snomM700-0004136AFF{i:02X}.htm") for i in range(8)]
    assert statuses == ["404"] * 7 + ["403"], statuses
    wait_for(
        lambda: SWEEPER_IP in lab.run(f"fail2ban-client status {SWEEP_JAIL}", check=False).stdout,
        30,
        "the sweep jail to ban the sweeper",
    )
    # banned: no answer (fail2ban lists the address before its firewall action is in place)
    wait_for(lambda: lab.http_status_phone(SWEEPER_IP, f"{SERVER}snomM700-{HALL}.htm") == "000", 10, "the ban in place")
    assert lab.http_status_phone(HALL_IP, f"{SERVER}snomM700-{HALL}.htm") == "200"
    assert "0004136A0001" not in dect.pbx.state()["unknown"]
