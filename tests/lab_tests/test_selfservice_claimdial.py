"""Self-service in the lab, measured from outside: a simulated snom that no YAML names is
plugged in, gets a temporary number from the provisioning server and registers with it; it
may call the info desk and the test numbers and nothing else; dialling a wrong token gets
"that is incorrect" and 403 and a line for fail2ban's jail (without the token); dialling
the right token (a real SIP INVITE, SIPp with the temporary number's credentials) gets 200,
the phone is told to fetch its settings (NOTIFY check-sync), fetches its claimed account
and registers as the claimed number, its temporary number is free again, and a crew phone's
call to it rings it (the INVITE arrives). The token is in no log. End to end through the
page: a third snom's participant claims 2346 in headless Chromium (lab/browser.py) for a snom,
the page shows the token and no SIP password, the snom dials it from 9001 and registers as 2346. A teardown wipes both participants' snoms and proves them clean
(they fetched the wiped profile).

One lab for the module; each fixture builds on the one before (`phone`: registered with a
temporary number; `claimed`: after the claim by dialling; `second`: a second snom given the freed 9000; `by_page`:
a third snom, all restarted, claimed through the page), so each test passes alone (`-k`).
"""

from __future__ import annotations

import json
import re
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.browser import Browser
from lab.callee import Dial
from lab.deploys import Deployment
from lab.lab import Lab
from lab.machine import IP
from lab.snom import SnomFleet, SnomPhone
from lab.wait import wait_for
from roles.selfservice import PAGE_JAIL_REGEX
from roles.shared import names

pytestmark = pytest.mark.lab

MAC, PHONE_IP = "000413C0FFEE", "127.0.0.21"
OTHER, OTHER_IP = "000413C0FFEF", "127.0.0.22"
THIRD, THIRD_IP = "000413C0FFF0", "127.0.0.23"
PAGE = "http://127.0.0.1:8080"  # the registration page: pbx_address, page_port's default
URL = "http://127.0.0.1:8088/televoc/{mac}.xml"
TOOL = names.SELFSERVICE_TOOL
PAGE_LOG = "/var/log/televoc-page/page.log"
ACCESS_LOG = "/var/log/televoc-provisioning/access.log"
EVENT = textwrap.dedent("""\
    name: claimdial
    network: 127.0.0.0/27
    pbx_address: 127.0.0.1
    self_service:
      claimable: {first: 2000, last: 2999}
      temporary: {first: 9000, last: 9099}
      info_desk: infodesk
    call_log: {enabled: true}
""")
PHONES = "phones:\n  - {name: desk1, extension: 1001}\n  - {name: infodesk, extension: 1100}\n"


@dataclass
class Pbx:
    deployment: Deployment
    fleet: SnomFleet
    work: Path

    @property
    def lab(self) -> Lab:
        return self.deployment.lab

    def temporary_numbers(self) -> dict[str, str]:
        """MAC -> number, read from the database on the PBX (no password leaves it)."""
        script = (
            f"import json, sqlite3; c = sqlite3.connect('file:{names.SELFSERVICE_DB}?mode=ro', uri=True); "
            "print(json.dumps(dict(c.execute('SELECT mac, number FROM temporary_numbers'))))"
        )
        return json.loads(self.lab.run(f'python3 -c "{script}"').stdout)

    def dial(self, user: str, password: str, number: str, port: int) -> Dial:
        call = Dial.start(self.lab, user, password, number, port, hold=1, timeout=30)
        call.wait(timeout=40)
        return call


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    work: Path = tmp_path_factory.mktemp("claimdial")
    event = work / "event"
    event.mkdir()
    (event / "event.yml").write_text(EVENT)
    (event / "phones.yml").write_text(PHONES)
    with Lab(work / "lab") as lab:
        deployment = Deployment.prepare(lab, work, event)
        run = deployment.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        fleet = SnomFleet(lab, work / "snom")
        try:
            yield Pbx(deployment, fleet, work)
        finally:
            fleet.stop()


@pytest.fixture(scope="module")
def phone(pbx) -> dict:
    """The participant's snom, plugged in: its state once registered (at most 30 s)."""
    pbx.fleet.start([SnomPhone(MAC, 5061, 80, URL, ip=PHONE_IP)])
    return pbx.fleet.wait(MAC, lambda s: s["registered"], timeout=30, what="registered with a temporary number")


def test_an_unknown_snom_gets_a_temporary_number_and_registers_with_it(pbx, phone):
    assert phone["registered_as"] == "9000", phone
    assert pbx.temporary_numbers() == {MAC: "9000"}
    endpoint = pbx.lab.asterisk("pjsip show endpoint 9000")
    assert f"context                            : {names.TEMPORARY_CONTEXT}" in endpoint, endpoint
    contact = re.compile(rf"^\s*Contact:\s+9000/sip:9000@{re.escape(PHONE_IP)}:5061\S*\s.*\bAvail\b", re.M)
    wait_for(lambda: contact.search(pbx.lab.asterisk("pjsip show endpoint 9000")), 40, "9000 Avail (qualify)")
    log = pbx.lab.run(f"cat {ACCESS_LOG}").stdout
    assert re.search(rf"served {MAC} version \w+ to {re.escape(PHONE_IP)} \(temporary number 9000\)", log), log
    assert phone["settings"]["user_pass.1"] not in log
    # the same MAC asking again gets the same number (the same file, within its window)
    again = pbx.lab.run(f"curl -s --interface {PHONE_IP} http://127.0.0.1:8088/televoc/{MAC}.xml").stdout
    assert '<user_name idx="1" perm="R">9000</user_name>' in again
    assert pbx.temporary_numbers() == {MAC: "9000"}


def test_a_redeploy_keeps_the_temporary_number_and_takes_it_for_no_stray_account(pbx, phone):
    run = pbx.deployment.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
    assert run.returncode == 0, run.output
    assert "that the directory does not" not in run.output
    assert "reload" not in run.output.lower(), run.output  # Asterisk already serves this config
    assert pbx.temporary_numbers() == {MAC: "9000"}
    assert pbx.fleet.state(MAC)["registered_as"] == "9000"


def test_a_temporary_number_calls_the_info_desk_and_test_numbers_only(pbx, phone):
    password = phone["settings"]["user_pass.1"]
    assert pbx.dial("9000", password, "1001", 5201).final().status == 403  # a crew phone: not allowed
    assert pbx.dial("9000", password, "100", 5202).final().status == 200  # hello world: answered
    # the info desk is reached (nobody is registered there: 480, not 403)
    assert pbx.dial("9000", password, "1100", 5203).final().status == 480


def test_a_wrong_token_is_refused_in_words_and_logged_for_the_jail_without_the_token(pbx, phone):
    password = phone["settings"]["user_pass.1"]
    call = pbx.dial("9000", password, "*23000000", 5204)
    statuses = [m.status for m in call.responses()]
    assert 183 in statuses and call.final().status == 403, statuses  # "that is incorrect", then 403
    lines = [line for line in pbx.lab.run(f"cat {PAGE_LOG}").stdout.splitlines() if "claim token" in line]
    assert lines and "000000" not in lines[-1], lines
    regex = PAGE_JAIL_REGEX.replace("<ADDR>", r"(?P<host>\S+)")
    match = re.search(regex, lines[-1].split(" ", 1)[1])
    assert match and match["host"] == "127.0.0.1", lines[-1]
    assert pbx.fleet.state(MAC)["registered_as"] == "9000"  # nothing changed


@pytest.fixture(scope="module")
def claimed(pbx, phone) -> dict:
    """2345 claimed (as the page does: with a token, for a snom), then the token dialled from
    the phone's temporary number: the claim, the call, the phone's state once registered as
    2345 (at most 30 s), and the seconds from the dial to that registration."""
    done = pbx.lab.run(f"{TOOL} claim 2345 --name Alice --kind snom --token", check=False)
    assert done.returncode == 0, done.stderr
    given = json.loads(done.stdout)
    started = time.monotonic()
    call = pbx.dial("9000", phone["settings"]["user_pass.1"], f"*23{given['token']}", 5205)
    state = pbx.fleet.wait(MAC, lambda s: s["registered_as"] == "2345", timeout=30, what="registered as 2345")
    return {"given": given, "call": call, "state": state, "seconds": time.monotonic() - started}


def test_dialling_the_token_makes_the_phone_the_claimed_number(pbx, claimed):
    call, state = claimed["call"], claimed["state"]
    assert call.final().status == 200, [m.first_line for m in call.responses()]  # answered: "thank you"
    assert state["notifies"] >= 1 and state["last_notify_event"] == "check-sync", state
    assert state["settings"]["user_name.1"] == "2345" and state["settings"]["user_realname.1"] == "Alice"
    print(f"\nfrom the dial to the snom registered as 2345: {claimed['seconds']:.2f} s")  # pytest -s shows it
    assert claimed["seconds"] < 30
    # the temporary number is free again, and Asterisk no longer serves it
    assert pbx.temporary_numbers() == {}
    assert "Unable to find object 9000" in pbx.lab.asterisk("pjsip show endpoint 9000")
    log = pbx.lab.run(f"cat {ACCESS_LOG}").stdout
    assert re.search(rf"served {MAC} version \w+ to {re.escape(PHONE_IP)} \(claimed number 2345, temporary", log)


def test_a_crew_phone_calls_the_claimed_number_and_the_phone_rings(pbx, claimed):
    before = pbx.fleet.state(MAC)["invites"]
    password = pbx.deployment.passwords()["desk1"]
    call = pbx.dial("desk1", password, "2345", 5206)
    wait_for(lambda: pbx.fleet.state(MAC)["invites"] > before, 10, "the INVITE at the claimed phone")
    assert call.final() is not None and call.final().status == 486  # the simulated snom says busy


@pytest.fixture(scope="module")
def second(pbx, claimed) -> dict:
    """A second participant's snom plugged in beside the first (both restarted): its state once
    registered (at most 30 s)."""
    pbx.fleet.stop()
    pbx.fleet.start([SnomPhone(MAC, 5061, 80, URL, ip=PHONE_IP), SnomPhone(OTHER, 5062, 81, URL, ip=OTHER_IP)])
    pbx.fleet.wait(MAC, lambda s: s["registered_as"] == "2345", timeout=30, what="registered as 2345 again")
    return pbx.fleet.wait(OTHER, lambda s: s["registered"], timeout=30, what="registered")


def test_the_token_is_in_no_log_and_cannot_be_dialled_again(pbx, claimed, second):
    token = claimed["given"]["token"]
    found = pbx.lab.run(f"grep -rl -- '{token}' /var/log /var/lib/asterisk 2>/dev/null; true").stdout.strip()
    assert found == "", found  # /var/log holds the call log's database too (call_log: on)
    # the call log records calls (9000's call to hello world), but none to the claim code
    dialled = pbx.lab.run(
        f"python3 -c \"import sqlite3; print(sqlite3.connect('file:{names.CALL_LOG_DB}?mode=ro', uri=True)"
        f".execute('SELECT group_concat(dst) FROM {names.CALL_LOG_TABLE}').fetchone()[0])\""
    ).stdout
    assert "100" in dialled.split(",") and "*23" not in dialled, dialled
    assert "claimed by dialling from 9000 (127.0.0.1)" in pbx.lab.run(f"cat {PAGE_LOG}").stdout
    # the token is used up: the second snom, given the freed 9000, dials it in vain
    assert second["registered_as"] == "9000"
    call = pbx.dial("9000", second["settings"]["user_pass.1"], f"*23{token}", 5207)
    assert call.final().status == 403


@pytest.fixture(scope="module")
def by_page(pbx, second) -> dict:
    """A third participant's snom plugged in beside the two (all restarted; the second keeps
    9000, so this one gets 9001); in headless Chromium the participant claims 2346 for "snom
    desk phone" on the registration page; the snom dials the claim code and the token the
    page showed: what the page showed, the call, the phone's state once registered as 2346."""
    pbx.fleet.stop()
    phones = [(MAC, 5061, 80, PHONE_IP), (OTHER, 5062, 81, OTHER_IP), (THIRD, 5063, 82, THIRD_IP)]
    pbx.fleet.start([SnomPhone(mac, sip, web, URL, ip=ip) for mac, sip, web, ip in phones])
    pbx.fleet.wait(MAC, lambda s: s["registered_as"] == "2345", timeout=30, what="registered as 2345 again")
    pbx.fleet.wait(OTHER, lambda s: s["registered_as"] == "9000", timeout=30, what="registered as 9000 again")
    temporary = pbx.fleet.wait(THIRD, lambda s: s["registered"], timeout=30, what="registered")
    with Browser(prefix=[IP, "netns", "exec", pbx.lab.netns]) as b:
        b.open(PAGE + "/")
        b.fill({"#number": "2346", "#name": "Bob", "input[name=kind][value=snom]": ""})
        chosen = b.evaluate("document.querySelector('input[name=kind]:checked').parentElement.innerText")
        b.click("form[action='/claim'] button")
        shown = {"chosen": chosen, "h1": b.text("h1"), "token": b.text("#token"), "body": b.text()}
        shown["sip-password"] = b.evaluate("document.querySelector('#sip-password') !== null")
    call = pbx.dial(temporary["registered_as"], temporary["settings"]["user_pass.1"], f"*23{shown['token']}", 5208)
    state = pbx.fleet.wait(THIRD, lambda s: s["registered_as"] == "2346", timeout=30, what="registered as 2346")
    return {"shown": shown, "temporary": temporary, "call": call, "state": state}


def test_a_snom_claimed_on_the_page_becomes_the_number_by_dialling_the_token_shown(pbx, by_page):
    shown, state = by_page["shown"], by_page["state"]
    assert by_page["temporary"]["registered_as"] == "9001", by_page["temporary"]
    assert shown["chosen"].strip() == "snom desk phone" and shown["h1"] == "2346 is yours, Bob", shown
    assert re.fullmatch(r"\d{6}", shown["token"]), shown["token"]
    # a snom gets the token alone: no SIP account on the page, and not the password it got
    assert shown["sip-password"] is False and "Your SIP account" not in shown["body"], shown["body"]
    assert state["settings"]["user_pass.1"] not in shown["body"]
    assert by_page["call"].final().status == 200, [m.first_line for m in by_page["call"].responses()]
    assert state["settings"]["user_name.1"] == "2346" and state["settings"]["user_realname.1"] == "Bob"
    contact = re.compile(rf"^\s*Contact:\s+2346/sip:2346@{re.escape(THIRD_IP)}:5063\S*\s", re.M)
    wait_for(lambda: contact.search(pbx.lab.asterisk("pjsip show endpoint 2346")), 10, "2346's contact")
    # its temporary number is free again (the second snom keeps 9000), Asterisk no longer serves it
    assert pbx.temporary_numbers() == {OTHER: "9000"}
    assert "Unable to find object 9001" in pbx.lab.asterisk("pjsip show endpoint 9001")
    assert "claimed by dialling from 9001 (127.0.0.1)" in pbx.lab.run(f"cat {PAGE_LOG}").stdout


def test_teardown_wipes_the_participants_snoms_and_proves_them_clean(pbx, claimed, second):
    # ready: Asterisk lists both participants' snoms registered and answering qualify
    def both_avail() -> bool:
        lines = pbx.lab.asterisk("pjsip show contacts").splitlines()
        return all(any(f"{n}/sip:{n}@" in line and " Avail " in f"{line} " for line in lines) for n in ("2345", "9000"))

    wait_for(both_avail, 30, "2345 and 9000 Avail")
    run = pbx.deployment.run(
        "teardown.py",
        "--data",
        "televoc_reset_by_hand=desk1,infodesk",
        "--data",
        f"selfservice__export_dir={pbx.work / 'claims'}",
    )
    assert run.returncode == 0, run.output
    assert re.search(rf"2345: clean since \S+: fetched the wiped profile from {re.escape(PHONE_IP)}", run.output)
    assert re.search(rf"9000: clean since \S+: fetched the wiped profile from {re.escape(OTHER_IP)}", run.output)
    for mac in (MAC, OTHER):
        state = pbx.fleet.wait(mac, lambda s: not s["registered"], timeout=10, what="unregistered")
        held = {
            k: v for k, v in state["settings"].items() if k.startswith(("user_pass", "user_name", "setting_server"))
        }
        assert held == {}, held
    assert pbx.lab.run(f"test -e {names.SELFSERVICE_DB}", check=False).returncode == 1
