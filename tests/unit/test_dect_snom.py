"""snom M-series bases: the files televoc renders for them (pure, no host)."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from roles import plan
from roles.event import load_directory
from roles.shared.files import sha256
from roles.shared.pbxcli import Contact, PbxState
from roles.snom import bases, deploy, provisioning
from roles.snom import dect as snom_dect
from roles.snom.findings import findings
from roles.snom.operations import bases_sentence, changed_bases
from tests.unit.eventdirs import write
from tests.unit.test_dect_event import BASES, EVENT

PHONES = """\
phones:
  - {name: saal1, extension: 1001}
  - {name: crew-anna, extension: 2001, base: dect-hall, slot: 7, display_name: "Anna & Crew"}
  - {name: crew-ben, extension: 2002, base: dect-hall, slot: 2, ipei: "02156 0123457 0"}
  - {name: office, extension: 2003, base: dect-office, slot: 1}
"""


@pytest.fixture
def directory(tmp_path):
    return load_directory(write(tmp_path, EVENT, PHONES, files={"dect.yml": (BASES, 0o644)}))


def settings(text: str) -> dict[tuple[str, int], str]:
    """(name, idx) -> value of a snom settings file (idx 0: global)."""
    root = ET.fromstring(text)
    return {(e.tag, int(e.get("idx", 0))): e.text or "" for e in root.find("phone-settings") or []}


def base(directory, name):
    return next(b for b in directory.bases if b.name == name)


def test_each_base_gets_its_model_file_its_mac_file_and_its_settings(directory):
    files = snom_dect.render_bases(directory)
    assert sorted(files) == sorted(
        [
            "snomM700.htm",
            "snomM300.htm",
            "snomM700-0004136A0001.htm",
            "0004136A0001.xml",
            "snomM700-0004136A0002.htm",
            "0004136A0002.xml",
            "snomM300-0004136A0003.htm",
            "0004136A0003.xml",
        ]
    )
    listed = [f.get("url") for f in ET.fromstring(files["snomM700-0004136A0002.htm"]).iter("file")]
    assert listed == ["http://10.23.0.2:8088/televoc/0004136A0002.xml"]
    assert list(ET.fromstring(files["snomM700.htm"]).iter("file")) == []


def test_the_primary_holds_each_handsets_account_at_its_slot(directory):
    hall = settings(snom_dect.render_base(directory, base(directory, "dect-hall")))
    anna = next(a for a in directory.accounts if a.name == "crew-anna")
    assert hall[("user_active", 7)] == "on" and hall[("user_name", 7)] == "crew-anna"
    assert hall[("user_pname", 7)] == "crew-anna" and hall[("user_pass", 7)] == anna.password
    assert hall[("user_realname", 7)] == "Anna & Crew"  # escaped in the file, as written when parsed
    assert hall[("subscr_dect_ac_code", 7)] == "0007" and hall[("subscr_sip_hs_idx", 7)] == "7"
    assert hall[("subscr_sip_ua_data_server_id", 7)] == "1" and hall[("user_host", 1)] == "10.23.0.2:5060"
    assert ("subscr_dect_ipui", 7) not in hall  # bound by access code
    assert hall[("subscr_dect_ipui", 2)] == "0086C1E241"  # bound to the handset by its IPEI
    assert hall[("auto_dect_register", 0)] == "on"


def test_every_other_slot_up_to_the_models_lines_is_off_without_password(directory):
    office = settings(snom_dect.render_base(directory, base(directory, "dect-office")))
    active = {idx for (name, idx), value in office.items() if name == "user_active" and value == "on"}
    off = {idx for (name, idx), value in office.items() if name == "user_active" and value == "off"}
    assert active == {1} and off == set(range(2, 21))  # a snomM300 has 20 lines
    assert all(office[("user_pass", i)] == "" and office[("user_name", i)] == "" for i in off)
    hall = settings(snom_dect.render_base(directory, base(directory, "dect-hall")))
    assert max(idx for name, idx in hall if name == "user_active") == 1000  # a snomM700 has 1000


def test_a_secondary_base_holds_no_account_and_no_handset_password(directory):
    text = snom_dect.render_base(directory, base(directory, "dect-foyer"))
    foyer = settings(text)
    assert not any(name.startswith(("user_", "subscr_")) for name, _ in foyer)
    assert all(a.password not in text for a in directory.accounts)
    assert foyer[("http_pass", 0)] == base(directory, "dect-foyer").web_password


def test_a_base_gets_only_its_own_handsets(directory):
    def users(name):
        parsed = settings(snom_dect.render_base(directory, base(directory, name)))
        return {value for (key, _), value in parsed.items() if key == "user_name" and value}

    assert users("dect-office") == {"office"}
    assert users("dect-hall") == {"crew-anna", "crew-ben"}
    assert users("dect-foyer") == set()


def test_each_base_locks_its_web_interface_with_its_own_password(directory):
    passwords = {b.name: settings(snom_dect.render_base(directory, b))[("http_pass", 0)] for b in directory.bases}
    assert passwords == {b.name: b.web_password for b in directory.bases}
    assert len(set(passwords.values())) == 3
    hall = settings(snom_dect.render_base(directory, base(directory, "dect-hall")))
    assert hall[("http_engineer_pass", 0)] == hall[("http_basic_pass", 0)] == passwords["dect-hall"]
    assert hall[("setting_server", 0)] == "http://10.23.0.2:8088/televoc/"


def test_no_bases_no_files(tmp_path):
    directory = load_directory(write(tmp_path, EVENT, "phones:\n  - {name: saal1, extension: 1001}\n"))
    assert snom_dect.render_bases(directory) == {}


# --- what the provisioning server is given (roles/snom/render.py provisioning) -------------


def test_the_provisioning_server_serves_the_bases_files_beside_the_phones(directory):
    served = provisioning(directory)
    assert served.server is not None  # no desk phone is provisioned: the bases need the server
    assert served.files == snom_dect.render_bases(directory)  # no desk phone: no directory.xml either
    assert all(name.endswith((".htm", ".xml")) and "/" not in name for name in served.files)


def test_at_teardown_each_base_is_offered_its_settings_wiped_of_the_event(directory):
    files = provisioning(directory, wiped=True).files
    assert sorted(n for n in files if n.startswith("0004136A")) == [
        "0004136A0001.xml",
        "0004136A0002.xml",
        "0004136A0003.xml",
    ]
    passwords = {a.password for a in directory.accounts} | {b.web_password for b in directory.bases}
    assert not any(p in text for p in passwords for text in files.values())
    hall = settings(files["0004136A0001.xml"])
    assert hall[("setting_server", 0)] == "" and hall[("http_pass", 0)] == "" and hall[("user_host", 1)] == ""
    assert {hall[("user_active", n)] for n in range(1, 1001)} == {"off"}
    assert (
        hall[("user_name", 7)] == "" and hall[("subscr_dect_ipui", 2)] == "" and hall[("subscr_dect_ac_code", 7)] == ""
    )
    office = settings(files["0004136A0003.xml"])
    assert {office[("user_active", n)] for n in range(1, 21)} == {"off"}  # an M300's 20 lines


def test_the_teardown_record_holds_the_bases_not_the_handsets(directory):
    from roles.snom.teardown import fetched_wipe, merged, report

    pbx = PbxState(running=True, contacts=(Contact("crew-ben", "sip:crew-ben@10.23.0.31:5060", "Avail", 0.3),))
    record = merged(None, directory, pbx, "T0")
    assert sorted(record.phones) == ["dect-foyer", "dect-hall", "dect-office", "saal1"]  # no handset
    hall = record.phones["dect-hall"]
    assert (hall.mac, hall.base, hall.registered, hall.address) == ("0004136A0001", True, True, "10.23.0.31")
    assert not record.phones["dect-foyer"].registered  # a secondary: nobody to tell it
    fetches = {"0004136A0001": {"version": "v-wiped", "source": "10.23.0.31"}}
    assert fetched_wipe(record, fetches, {"0004136A0001": "v-wiped"}) == {
        "dect-hall": "fetched the wiped profile from 10.23.0.31"
    }
    line = next(x for x in report(record) if x.startswith("dect-foyer"))
    assert "STILL HOLDS the event's credentials (snom DECT base)" in line and "boot it on the phone network" in line


def test_a_base_is_rearmed_by_name_like_a_phone(directory, monkeypatch):
    def rearmed(names):
        settings = SimpleNamespace(televoc_provisioning_unlock=False, televoc_rearm=names)
        monkeypatch.setattr(deploy, "read", lambda _: settings)
        return sorted(deploy.control(directory).get("rearm", {}))

    assert rearmed(("dect-hall",)) == ["0004136A0001"]
    assert rearmed(("all",)) == ["0004136A0001", "0004136A0002", "0004136A0003"]
    assert rearmed(()) == []
    with pytest.raises(deploy.SettingError, match="not a provisioned phone.*: saal1"):
        rearmed(("dect-foyer", "saal1"))  # saal1 has no mac


def test_the_deploy_names_who_fetched_a_primarys_settings_not_a_secondarys(directory):
    server = {
        "fetches": {
            "0004136A0001": {"version": "v", "first": 0, "last": 0, "source": "10.23.0.31", "count": 1},
            "0004136A0002": {"version": "v", "first": 0, "last": 0, "source": "10.23.0.32", "count": 1},
        }
    }
    [sentence] = findings(server, directory, None).bases
    assert sentence.startswith("DECT base dect-hall: its settings (every handset account of its system) were")
    assert "fetched by 10.23.0.31 at 1970-01-01T00:00:00Z" in sentence


def test_the_bases_whose_settings_changed_are_named_for_the_crew(directory):
    files = snom_dect.render_bases(directory)
    published = {name: sha256(text) for name, text in files.items()}
    assert changed_bases(published, files, directory.bases) == []
    assert changed_bases(None, files, directory.bases) == ["dect-hall", "dect-foyer", "dect-office"]  # first publish
    newer = {**files, "0004136A0001.xml": files["0004136A0001.xml"].replace("crew-anna", "crew-anne")}
    assert changed_bases(published, newer, directory.bases) == ["dect-hall"]
    assert changed_bases(published, {}, directory.bases) == []  # teardown: no base file, nobody to reboot
    assert bases_sentence(["dect-hall"]).startswith(
        "DECT base whose settings changed: dect-hall: a base with a handset"
    )
    many = bases_sentence([f"b{i}" for i in range(12)])
    assert "b8, b9 and 2 more:" in many and "b10" not in many


def test_a_base_is_out_of_date_until_the_server_served_it_the_version_published_now(directory):
    files = snom_dect.render_bases(directory)
    hall = bases.version(files["0004136A0001.xml"])
    pbx = PbxState(running=True, contacts=(Contact("crew-ben", "sip:crew-ben@10.23.0.31:5060", "Avail", 0.3),))
    stale = bases.out_of_date(directory, files, None, pbx)  # nothing fetched yet
    assert [(b.name, b.handsets, b.fetched) for b in stale] == [
        ("dect-hall", ("crew-ben",), None),  # its registered handsets only, in slot order
        ("dect-foyer", (), None),  # a secondary: no account to carry a NOTIFY
        ("dect-office", (), None),
    ]
    server = {
        "fetches": {
            "0004136A0001": {"version": hall, "source": "10.23.0.31"},
            "0004136A0002": {"version": bases.version(files["0004136A0002.xml"]), "source": "10.23.0.32"},
            "0004136A0003": {"version": "0123456789abcdef", "source": "10.23.0.33"},  # an earlier version
        }
    }
    [office] = bases.out_of_date(directory, files, server, pbx)
    assert (office.name, office.mac, office.fetched) == ("dect-office", "0004136A0003", "10.23.0.33")
    assert office.version == bases.version(files["0004136A0003.xml"])
    assert "none of its handsets is registered (it fetched an earlier version from 10.23.0.33)" in (
        bases.untold_sentence(office, secondary=False)
    )
    assert bases.out_of_date(directory, {}, server, pbx) == []  # no base file published: nothing to fetch
    assert bases.last_fetched_from(directory, server) == {
        "dect-hall": "10.23.0.31",
        "dect-foyer": "10.23.0.32",
        "dect-office": "10.23.0.33",
    }
    assert bases.last_fetched_from(directory, None) == {}
    assert bases.fetched_now(stale, server) == {
        "dect-hall": server["fetches"]["0004136A0001"],
        "dect-foyer": server["fetches"]["0004136A0002"],
    }


def test_the_tell_script_notifies_one_registered_handset_per_base(tmp_path):
    """The script, run by sh with a stand-in Asterisk CLI: crew-anna is not registered, so
    dect-hall is told through crew-ben; dect-attic has nobody registered and is not told."""
    cli = tmp_path / "asterisk"
    log = tmp_path / "sent"
    cli.write_text(
        "#!/bin/sh\n"
        'case "$2" in\n'
        '"database show registrar/contact") printf "%s\\n" '
        '"/registrar/contact/crew-ben;@0a1b2c : {}" "/registrar/contact/crew-cleo;@0a1b2d : {}" '
        '"/registrar/contact/saal1;@0a1b2e : {}";;\n'
        f'*) echo "$2" >> {log};;\n'
        "esac\n"
    )
    cli.chmod(0o755)
    lines = "dect-hall crew-anna\ndect-hall crew-ben\ndect-hall crew-cleo\ndect-attic crew-dora\n"
    run = subprocess.run(
        ["sh", "-c", bases.tell_script(str(cli), "televoc-check-sync-reboot")],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.splitlines() == [bases.TOLD_MARK, "dect-hall crew-ben"]
    assert log.read_text().splitlines() == ["pjsip send notify televoc-check-sync-reboot endpoint crew-ben"]


def test_the_subscription_sheet_lists_each_handsets_access_code_and_no_password(directory):
    from roles.snom.sheet import sheet

    text = sheet(directory)
    assert text.splitlines()[:4] == [
        "dect-hall (snomM700, MAC 0004136A0001, Hall A, ceiling): 2 handsets of 1000; each subscribes with its "
        "access code",
        "  slot  access code  handset    extension  IPEI",
        "  2     0002         crew-ben   2002       02156 0123457 0",
        "  7     0007         crew-anna  2001       -",
    ]
    assert "dect-foyer (snomM700, MAC 0004136A0002): a secondary of dect-hall" in text
    assert not any(a.password in text for a in directory.accounts) and not any(
        b.web_password in text for b in directory.bases
    )
    assert sheet(directory, ("dect-office",)).startswith("dect-office (snomM300")


def test_the_passwords_command_shows_each_bases_web_password(tmp_path, capsys):
    from roles.event.__main__ import main

    event = write(tmp_path, EVENT, PHONES, files={"dect.yml": (BASES, 0o644)})
    assert main(["passwords", "--event", str(event)]) == 0
    out = capsys.readouterr().out
    hall = next(b for b in load_directory(event).bases if b.name == "dect-hall")
    assert any(line.startswith("dect-hall ") and line.endswith(hall.web_password) for line in out.splitlines())


def test_the_sip_jail_spares_where_a_base_fetched_its_settings_and_bans_when_it_cannot_tell(directory, tmp_path):
    """The ignorecommand asks the provisioning server's code about its state, bounded in time
    (a kill bans: only exit 0 spares); without bases the jail spares nobody."""
    module = plan.buildup(directory).module.text
    jail = module[module.index("jails.televoc-sip = {") :]
    jail = jail[: jail.index("\n    };\n")]
    assert (
        "ignorecommand = ''${pkgs.coreutils}/bin/timeout -k 1 5 ${pkgs.python3}/bin/python3 -I ${./provisiond.py} "
        "spared --files /var/lib/televoc-phones --state /var/lib/televoc-provisioning/state.json <ip>'';"
    ) in jail
    assert "ignorecache = ''key=\"<ip>\", max-count=1000, max-time=60'';" in jail  # one run a minute per source
    assert "asterisk -rx" not in module and "extraPackages" not in module  # no count of accounts
    assert "ignorecommand" not in plan.teardown(directory).module.text
    (tmp_path / "desk").mkdir()
    desk = "phones:\n  - {name: saal1, extension: 1001, mac: '00:04:13:a0:00:09', model: snom320}\n"
    module = plan.buildup(load_directory(write(tmp_path / "desk", EVENT, desk))).module.text
    assert "jails.televoc-sip = {" in module and "provisiond.py} --bind" in module  # provisioned, no base:
    assert "ignorecommand" not in module
