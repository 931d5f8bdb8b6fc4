"""The snom phone simulator (lab/snomsim.py, driven by lab/snom.py) against the lab's
real Asterisk 22 (this was the lab's snom_selftest.py; its fake-registrar part, which needs no
lab, is tests/unit/test_snomsim.py).

A hand-written Asterisk config (PJSIP, HTTP static files, the check-sync NOTIFY types) is
deployed, snom XML is published under /var/lib/asterisk/static-http/televoc/ as televoc does,
and five simulated phones fetch, register, answer qualify, follow check-sync NOTIFYs, are
adopted over the web, reboot, reset and unregister on SIGTERM:
    A  000413ABCDEF  setting_server from DHCP, saal1
    B  000413ABCDF0  second-hand: a web password, no setting_server; adopted over the web, saal2
    C  000413000404  setting_server from DHCP, but no file for its MAC
    D  000413000009  a setting_server nobody answers
    E  000413000005  on its own address 127.0.0.5 with a real phone's ports (SIP 5060, web 80), saal4

The tests share one lab and one fleet and run in file order; each one brings its phone into the
state it needs when it is not there yet, so any of them also runs alone.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.lab import Lab
from lab.snom import SnomFleet, SnomPhone
from lab.wait import until

ENDPOINT = """\
        [{name}]
        type=endpoint
        context=from-internal
        disallow=all
        allow=ulaw,alaw
        auth={name}
        aors={name}
        [{name}]
        type=auth
        auth_type=userpass
        username={name}
        password={password}
        [{name}]
        type=aor
        max_contacts=1
        remove_existing=yes
        qualify_frequency=5
"""
# pjsip_notify.conf: ";" starts a comment in Asterisk's config files, so the reboot variant
# needs "\\;" (unescaped, Asterisk sends "Event: check-sync" and drops ";reboot=true").
PASSWORDS = {f"saal{i}": f"averylongpassword{i}" for i in range(1, 5)}
CONFIG = """\
{ config, lib, pkgs, ... }:
{
  services.asterisk = {
    enable = true;
    confFiles = {
      "pjsip.conf" = ''
        [transport-udp]
        type=transport
        protocol=udp
        bind=127.0.0.1:5060
@ENDPOINTS@      '';
      "extensions.conf" = ''
        [from-internal]
        exten => 100,1,Answer()
         same => n,Hangup()
      '';
      "http.conf" = ''
        [general]
        enabled=yes
        bindaddr=127.0.0.1
        bindport=8088
        enablestatic=yes
      '';
      "pjsip_notify.conf" = ''
        [televoc-check-sync]
        Event=>check-sync
        [televoc-check-sync-reboot]
        Event=>check-sync\\;reboot=true
      '';
    };
  };
}
"""
PROV_DIR = "/var/lib/asterisk/static-http/televoc"
URL = "http://127.0.0.1:8088/static/televoc/{mac}.xml"
A, B, C, D, E = "000413ABCDEF", "000413ABCDF0", "000413000404", "000413000009", "000413000005"
ADOPT = "/dummy.htm?settings=save&setting_server=" + URL.replace("{", "%7B").replace("}", "%7D")
REBOOT, RESET = "/advanced_update.htm?reboot=Reboot", "/advanced_update.htm?reset=Reset"


def snom_xml(user: str | None, realname: str = "", active: str = "on", **globals_: str) -> str:
    """A provisioning file as televoc writes it: identity 1 for `user` (None: wiped)."""
    rows = [(name, None, value) for name, value in {"setting_server": URL, "http_user": "admin", **globals_}.items()]
    rows += [
        ("user_active", 1, active),
        ("user_realname", 1, realname),
        ("user_name", 1, user or ""),
        ("user_pname", 1, user or ""),
        ("user_pass", 1, PASSWORDS.get(user, "") if active == "on" else ""),
        ("user_host", 1, "127.0.0.1:5060"),
    ]
    body = "".join(f'    <{n}{f" idx={chr(34)}{i}{chr(34)}" if i else ""} perm="R">{v}</{n}>\n' for n, i, v in rows)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<settings>\n  <phone-settings e="2">\n'
        f"{body}  </phone-settings>\n</settings>\n"
    )


@dataclass
class Pbx:
    lab: Lab
    work: Path
    switch: subprocess.CompletedProcess  # of the nixos-rebuild switch

    def publish(self, mac: str, xml: str) -> None:
        self.lab.run(
            f"printf %s {shlex.quote(xml)} > /tmp/{mac}.xml && "
            f"install -m 0640 -o root -g asterisk /tmp/{mac}.xml {PROV_DIR}/{mac}.xml && rm /tmp/{mac}.xml"
        )

    def notify(self, args: str) -> str:
        """`pjsip send notify ARGS`; Asterisk's CLI output."""
        return self.lab.asterisk(f"pjsip send notify {args}")

    def contacts(self) -> dict[str, str]:
        """AOR -> status from `pjsip show contacts`."""
        found = {}
        for line in self.lab.asterisk("pjsip show contacts").splitlines():
            words = line.split()
            if len(words) >= 4 and words[0] == "Contact:" and "/sip:" in words[1]:
                found[words[1].split("/")[0]] = words[3]
        return found

    def http_code(self, url: str, *curl_args: str) -> str:
        args = " ".join(shlex.quote(a) for a in curl_args)
        return self.lab.run(f"curl -s -o /dev/null -w '%{{http_code}}' {args} {shlex.quote(url)}").stdout


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    """The lab with the config deployed and the first provisioning files of A, B and E."""
    work = tmp_path_factory.mktemp("snomsim")
    lab = Lab(work / "lab")
    lab.up()
    try:
        endpoints = "".join(ENDPOINT.format(name=n, password=p) for n, p in PASSWORDS.items())
        lab.run(
            "mkdir -p /etc/nixos/televoc && cat > /etc/nixos/televoc/asterisk.nix <<'EOF'\n"
            + CONFIG.replace("@ENDPOINTS@", endpoints)
            + "EOF"
        )
        pbx = Pbx(lab, work, lab.run("nixos-rebuild switch", check=False, timeout=120))
        assert pbx.switch.returncode == 0, f"nixos-rebuild switch failed:\n{pbx.switch.stderr}"
        lab.run(f"install -d -m 0750 -o root -g asterisk {PROV_DIR}")
        pbx.publish(A, snom_xml("saal1", "Saal Eins"))
        pbx.publish(B, snom_xml("saal2", "Saal Zwei", http_pass="b-web-pass"))
        pbx.publish(E, snom_xml("saal4", "Saal Vier", http_pass="e-web-pass"))
        yield pbx
    finally:
        lab.down()


@pytest.fixture(scope="module")
def fleet(pbx):
    """The five phones, plugged in (started) once."""
    fleet = SnomFleet(pbx.lab, pbx.work / "snom")
    fleet.start(
        [
            SnomPhone(A, 5101, 8101, URL),
            SnomPhone(B, 5102, 8102, None, "secondhand"),
            SnomPhone(C, 5103, 8103, URL),
            SnomPhone(D, 5104, 8104, "http://127.0.0.1:9/{mac}.xml"),
            SnomPhone(E, 5060, 80, URL, ip="127.0.0.5"),
        ]
    )
    try:
        yield fleet
    finally:
        fleet.stop()


# --- the states the tests start from ------------------------------------------------------

A_ACCOUNTS = {"saal1": "Saal Eins", "saal3": "Saal Drei"}


def a_registered_as(pbx: Pbx, fleet: SnomFleet, user: str | None = None) -> dict:
    """Phone A registered (as `user`: saal1 or saal3), re-provisioned if it is not: by a
    check-sync NOTIFY to the account it has, or by a web reboot once it was deactivated."""
    state = fleet.wait(
        A, lambda s: s["registered"] or s["settings"].get("user_active.1") == "off", 10, "registered (or deactivated)"
    )
    if state["registered"] and state["registered_as"] == (user or state["registered_as"]):
        return state
    user = user or "saal1"
    pbx.publish(A, snom_xml(user, A_ACCOUNTS[user], http_pass="a-web-pass"))
    if state["registered"]:
        pbx.notify(f"televoc-check-sync endpoint {state['registered_as']}")
    else:
        assert fleet.web(A, REBOOT, ("admin", state["settings"].get("http_pass", ""))) == 200
    return fleet.wait(A, lambda s: s["registered_as"] == user, 10, f"registered as {user}")


def b_adopted(fleet: SnomFleet) -> dict:
    """Phone B has the setting_server (saved over its web interface unless it was)."""
    state = fleet.state(B)
    if state["settings"].get("setting_server") != URL:
        assert fleet.web(B, ADOPT, ("admin", state["settings"].get("http_pass", ""))) == 200
    return fleet.wait(B, lambda s: s["settings"].get("setting_server") == URL, 5, "adopted")


def b_registered(fleet: SnomFleet) -> dict:
    """Phone B adopted, rebooted and registered as saal2 (with the fetched web password)."""
    state = b_adopted(fleet)
    if not state["registered"]:
        assert fleet.web(B, REBOOT, ("admin", state["settings"].get("http_pass", ""))) == 200
    return fleet.wait(B, lambda s: s["registered_as"] == "saal2", 10, "registered as saal2")


# --- the PBX side --------------------------------------------------------------------------


def test_switch_starts_asterisk_and_its_http_server_serves_static(pbx):
    assert pbx.switch.returncode == 0, pbx.switch.stderr
    assert "starting the following units: asterisk.service" in pbx.switch.stderr, pbx.switch.stderr
    status = pbx.lab.asterisk("http show status")
    assert "Bound to 127.0.0.1:8088" in status and "/static/" in status, status


def test_provisioning_files_are_private_and_served_only_under_the_upper_case_mac(pbx):
    modes = pbx.lab.run(f"stat -L -c '%a %U:%G' {PROV_DIR} {PROV_DIR}/{A}.xml").stdout.split("\n")
    assert modes[:2] == ["750 root:asterisk", "640 root:asterisk"], modes
    got = pbx.lab.run(f"curl -sS {URL.format(mac=A)}").stdout
    assert got == snom_xml("saal1", "Saal Eins"), got
    codes = [pbx.http_code(URL.format(mac=mac)) for mac in (C, A.lower())]
    assert codes == ["404", "404"], "unknown MAC, MAC in lower case"


# --- boot ----------------------------------------------------------------------------------


def test_phone_fetches_its_xml_at_boot_and_registers_with_it(pbx, fleet):
    s = fleet.wait(A, lambda s: s["registered"], 10, "registered")
    assert s["fetches"] == 1 and s["registered_as"] == "saal1", json.dumps(s)
    assert s["settings"]["user_realname.1"] == "Saal Eins", json.dumps(s)
    avail = until(lambda: pbx.contacts().get("saal1") == "Avail", 15)
    assert avail is not None, "qualify (OPTIONS) not answered:\n" + pbx.lab.asterisk("pjsip show contacts")


def test_phone_on_its_own_address_registers_there_and_serves_its_web_on_port_80(pbx, fleet):
    fleet.wait(E, lambda s: s["registered"], 10, "registered")
    registered = until(lambda: pbx.contacts().get("saal4") == "Avail", 10)
    contact = [line for line in pbx.lab.asterisk("pjsip show contacts").splitlines() if "saal4/" in line]
    assert registered is not None, contact
    assert "saal4/sip:saal4@127.0.0.5:5060;transport=udp" in "".join(contact), contact
    # from the PBX's chroot with curl -u, as televoc does
    code = pbx.http_code("http://127.0.0.5/dummy.htm?settings=save&vol_ringer=9", "-u", "admin:e-web-pass")
    assert code == "200"
    fleet.wait(E, lambda s: s["settings"].get("vol_ringer") == "9", 10, "vol_ringer saved")


def test_unknown_mac_gives_a_failed_fetch_and_no_registration(fleet):
    s = fleet.wait(C, lambda s: s["fetch_failures"] == 1, 10, "fetch failed")
    assert s["last_fetch_status"] == 404, json.dumps(s)
    assert s["fetches"] == 0 and not s["registered"] and s["settings"] == {"setting_server": URL}, json.dumps(s)


def test_unreachable_setting_server_gives_a_failed_fetch(fleet):
    s = fleet.wait(D, lambda s: s["fetch_failures"] == 1, 15, "fetch failed")
    assert str(s["last_fetch_status"]).startswith("error") and not s["registered"], json.dumps(s)


# --- adopting a second-hand phone over the web ----------------------------------------------


def test_secondhand_phone_saves_the_setting_server_only_with_its_web_password(fleet):
    assert fleet.web(B, ADOPT) == 401, "no credentials"
    assert fleet.web(B, ADOPT, ("admin", "wrong")) == 401, "wrong password"
    assert fleet.web(B, ADOPT, ("admin", "secondhand")) == 200
    s = fleet.wait(B, lambda s: s["settings"].get("setting_server") == URL, 5, "adopted")
    assert s["fetches"] == 0 and not s["registered"], "fetched or registered before a reboot"


def test_web_reboot_fetches_registers_and_replaces_the_web_password(fleet):
    before = b_adopted(fleet)
    assert before["fetches"] == 0 and before["reboots"] == 0, json.dumps(before)
    assert fleet.web(B, REBOOT, ("admin", "secondhand")) == 200
    s = fleet.wait(B, lambda s: s["registered"], 10, "registered after reboot")
    assert s["reboots"] == 1 and s["fetches"] == 1 and s["registered_as"] == "saal2", json.dumps(s)
    assert s["settings"]["http_pass"] == "b-web-pass"
    assert fleet.web(B, "/nothing", ("admin", "secondhand")) == 401, "the old web password still works"
    assert fleet.web(B, "/nothing", ("admin", "b-web-pass")) == 404


# --- check-sync NOTIFY ---------------------------------------------------------------------


def test_check_sync_notify_refetches_and_reregisters_with_the_new_display_name(pbx, fleet):
    before = a_registered_as(pbx, fleet, "saal1")
    pbx.publish(A, snom_xml("saal1", "Saal Eins neu"))
    out = pbx.notify("televoc-check-sync endpoint saal1")
    s = fleet.wait(
        A,
        lambda s: (
            s["notifies"] == before["notifies"] + 1
            and s["fetches"] == before["fetches"] + 1
            and s["registrations"] == before["registrations"] + 1
        ),
        10,
        "re-fetched",
    )
    assert "Sending NOTIFY" in out, out
    assert s["identity"]["display_name"] == "Saal Eins neu" and s["registered"], json.dumps(s)
    assert s["last_notify_event"] == "check-sync", json.dumps(s)


def test_one_notify_command_reaches_two_endpoints(pbx, fleet):
    a = a_registered_as(pbx, fleet, "saal1")
    b = b_registered(fleet)
    out = pbx.notify("televoc-check-sync endpoint saal1 saal2")
    fleet.wait(A, lambda s: s["notifies"] == a["notifies"] + 1, 10, f"notified ({out})")
    fleet.wait(
        B,
        lambda s: s["notifies"] == b["notifies"] + 1 and s["fetches"] == b["fetches"] + 1,
        10,
        f"notified and re-fetched ({out})",
    )


def test_endpoint_without_contact_does_not_stop_the_notify_to_the_next(pbx, fleet):
    n = a_registered_as(pbx, fleet, "saal1")["notifies"]
    pbx.notify("televoc-check-sync endpoint saal3")  # no contact
    pbx.notify("televoc-check-sync endpoint nosuch")  # no endpoint
    assert fleet.state(A)["notifies"] == n
    out = pbx.notify("televoc-check-sync endpoint saal3 saal1")
    fleet.wait(A, lambda s: s["notifies"] == n + 1, 10, f"notified ({out})")


def test_web_password_from_the_xml_guards_the_web_interface(pbx, fleet):
    a_registered_as(pbx, fleet, "saal1")
    pbx.publish(A, snom_xml("saal1", "Saal Eins neu", http_pass="a-web-pass"))
    pbx.notify("televoc-check-sync endpoint saal1")
    fleet.wait(A, lambda s: s["settings"].get("http_pass") == "a-web-pass", 10, "http_pass fetched")
    header = pbx.lab.run("curl -sS -o /dev/null -D - http://127.0.0.1:8101/dummy.htm").stdout
    assert fleet.web(A, "/dummy.htm?settings=save") == 401, "no credentials"
    assert 'WWW-Authenticate: Basic realm="snom"' in header, header
    assert fleet.web(A, "/dummy.htm?settings=save", ("admin", "a-web-pass")) == 200
    assert fleet.web(A, "/index.htm", ("admin", "a-web-pass")) == 404


def test_check_sync_with_reboot_true_reboots_the_phone(pbx, fleet):
    before = a_registered_as(pbx, fleet, "saal1")
    pbx.notify("televoc-check-sync-reboot endpoint saal1")
    s = fleet.wait(A, lambda s: s["reboots"] == before["reboots"] + 1 and s["registered"], 10, "rebooted")
    assert s["last_notify_event"] == "check-sync;reboot=true", json.dumps(s)
    assert s["registrations"] == before["registrations"] + 1, json.dumps(s)  # unregister, fetch, register


def test_changed_identity_unregisters_the_old_account_and_registers_the_new(pbx, fleet):
    a_registered_as(pbx, fleet, "saal1")
    pbx.publish(A, snom_xml("saal3", "Saal Drei", http_pass="a-web-pass"))
    pbx.notify("televoc-check-sync endpoint saal1")
    fleet.wait(A, lambda s: s["registered_as"] == "saal3", 10, "registered as saal3")
    gone = until(lambda: "saal1" not in (c := pbx.contacts()) and c.get("saal3") == "Avail", 10)
    assert gone is not None, pbx.lab.asterisk("pjsip show contacts")


def test_deactivated_identity_unregisters_and_stays_unregistered(pbx, fleet):
    """user_active off and an empty user_pass."""
    n = a_registered_as(pbx, fleet, "saal3")["notifies"]
    pbx.publish(A, snom_xml("saal3", "Saal Drei", active="off", http_pass="a-web-pass"))
    pbx.notify("televoc-check-sync endpoint saal3")
    s = fleet.wait(A, lambda s: not s["registered"] and s["notifies"] == n + 1, 10, "unregistered")
    assert s["identity"] is None and "user_pass.1" not in s["settings"], json.dumps(s)
    assert until(lambda: "saal3" not in pbx.contacts(), 5) is not None, pbx.lab.asterisk("pjsip show contacts")
    again = until(lambda: fleet.state(A)["registrations"] != s["registrations"] or fleet.state(A)["registered"], 2)
    assert again is None, json.dumps(fleet.state(A))
    assert "saal3" not in pbx.contacts()


# --- factory reset, reboot, SIGTERM --------------------------------------------------------


def test_web_factory_reset_unregisters_and_clears_every_setting(pbx, fleet):
    before = b_registered(fleet)
    assert fleet.web(B, RESET, ("admin", "b-web-pass")) == 200
    s = fleet.wait(B, lambda s: s["resets"] == before["resets"] + 1, 10, "reset")
    assert not s["registered"] and s["settings"] == {} and s["identity"] is None, json.dumps(s)
    assert until(lambda: "saal2" not in pbx.contacts(), 5) is not None, pbx.lab.asterisk("pjsip show contacts")
    # no web password any more
    assert fleet.web(B, "/dummy.htm?settings=save") == 200, json.dumps(fleet.state(B))


def test_web_reboot_fetches_the_republished_account(pbx, fleet):
    before = fleet.wait(A, lambda s: s["fetches"] >= 1, 10, "booted")
    pbx.publish(A, snom_xml("saal1", "Saal Eins", http_pass="a-web-pass"))
    assert fleet.web(A, REBOOT, ("admin", "a-web-pass")) == 200
    fleet.wait(
        A, lambda s: s["registered_as"] == "saal1" and s["reboots"] == before["reboots"] + 1, 10, "registered again"
    )
    assert until(lambda: pbx.contacts().get("saal1") == "Avail", 10) is not None, pbx.lab.asterisk(
        "pjsip show contacts"
    )


def test_sigterm_unregisters_every_phone_and_exits_0(pbx, fleet):
    a_registered_as(pbx, fleet)
    fleet.wait(E, lambda s: s["registered"], 10, "registered")
    fleet.stop()
    assert fleet.proc.returncode == 0, fleet.log_tail()
    for mac in (A, E):  # the final state was written
        assert not fleet.state(mac)["registered"], json.dumps(fleet.state(mac))
    assert pbx.contacts() == {}, pbx.lab.asterisk("pjsip show contacts")


def test_simulator_logs_no_traceback(fleet):
    fleet.stop()  # its stdout and stderr are complete once it has ended
    log = (fleet.workdir / "snomsim.log").read_text()
    out = (fleet.workdir / "snomsim.out").read_text()
    assert "Traceback" not in log + out, (log + out)[-3000:]
