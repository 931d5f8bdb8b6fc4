"""One address sweeps MACs at the provisioning server from the phone network while a snom
provisions itself there: the sweeper is refused at its 8th unknown MAC and banned by fail2ban
from every port (its HTTP and its SIP get no answer), the phone gets its settings, registers
and keeps working, and the deploy names the sweeper apart from the lock (there is none).

Everything goes through the PBX's firewall from the lab's phone network (iptables, NixOS's
default backend; test_bans.py proves bans on both backends). ban_after is set high, so the
ban comes from the sweep jail (one line bans), not from counting refusals.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.deploys import Deployment, Run
from lab.lab import Lab
from lab.snom import SnomFleet, SnomPhone
from lab.wait import wait_for

PBX = "10.23.0.2"
SWEEPER, PHONE, OTHER = "10.23.0.68", "10.23.0.21", "10.23.0.67"
MAC = "000413A00001"
URL = f"http://{PBX}:8088/televoc/{{mac}}.xml"
ACCESS_LOG = "/var/log/televoc-provisioning/access.log"
SWEEP_JAIL, REFUSAL_JAIL = "televoc-mac-sweep", "televoc-provisioning"
SWEEP_COUNT, SWEEP_SECONDS = 600, 60  # the sweep's bounds: requests, and seconds in all
# The sweeper: GETs of unknown MACs from `source`, 20 a second, each waiting 1 s at most,
# until `count` requests, `seconds` or three in a row without an answer (banned: dropped).
# Prints the HTTP status of each, 0 for no answer.
SWEEP = textwrap.dedent("""\
    import http.client, json, sys, time
    source, pbx, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    statuses, deadline = [], time.monotonic() + seconds
    for i in range(count):
        if time.monotonic() > deadline or statuses[-3:] == [0, 0, 0]:
            break
        connection = http.client.HTTPConnection(pbx, 8088, timeout=1, source_address=(source, 0))
        try:
            connection.request("GET", f"/televoc/000413EE{i:04X}.xml")
            statuses.append(connection.getresponse().status)
        except (OSError, http.client.HTTPException):
            statuses.append(0)
        finally:
            connection.close()
        time.sleep(0.05)
    print(json.dumps(statuses), flush=True)
""")


class Pbx(Deployment):
    def http(self, source: str, path: str) -> str:
        return self.lab.http_status_phone(source, f"http://{PBX}:8088{path}")

    def banned(self, jail: str) -> str:
        return self.lab.run(f"fail2ban-client status {jail}", check=False).stdout

    def log(self) -> str:
        return self.lab.run(f"cat {ACCESS_LOG}").stdout


def avail(pbx: Pbx) -> bool:
    """hall1 is registered from the phone's address and answers Asterisk's qualify."""
    lines = pbx.lab.asterisk("pjsip show contacts").splitlines()
    return any(f"hall1/sip:hall1@{PHONE}:5061" in line and " Avail " in f"{line} " for line in lines)


@dataclass
class Sweep:
    pbx: Pbx
    fleet: SnomFleet
    statuses: list[int]  # what the sweeper got, request by request
    report: Run  # the deploy after the sweep


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp_path: Path = tmp_path_factory.mktemp("sweep")
    with Lab(tmp_path / "lab") as lab:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text(
            f"name: sweep\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n"
            "security: {ban_after: 20, find_seconds: 600, ban_seconds: 900}\n"
        )
        (event / "phones.yml").write_text(
            f"phones:\n  - {{name: hall1, extension: 2001, mac: '{MAC}', model: snom320}}\n"
            "  - {name: hall2, extension: 2002}\n"
        )
        pbx = Pbx.prepare(lab, tmp_path, event)
        run = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        for address in (SWEEPER, PHONE, OTHER):
            lab.phone_address(address)
        for jail in (SWEEP_JAIL, REFUSAL_JAIL):  # ready: fail2ban watches the server's log
            wait_for(lambda j=jail: "Currently banned" in pbx.banned(j), 30, f"fail2ban to run {jail}")
        wait_for(lambda: pbx.http(OTHER, "/televoc/directory.xml") == "200", 30, "the provisioning server")

        sweeper = lab.popen_phone_python(
            ["-c", SWEEP, SWEEPER, PBX, str(SWEEP_COUNT), str(SWEEP_SECONDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        fleet = SnomFleet(lab, tmp_path / "snom", netns=lab.phones_netns)
        try:
            # The sweeper is refused, and still sweeping, when the phone boots and asks.
            wait_for(lambda: "refused 403 sweeping" in pbx.log(), 20, "the sweeper to be refused")
            fleet.start([SnomPhone(MAC, 5061, 80, URL, ip=PHONE)])
            fleet.wait(MAC, lambda s: s["registered"], timeout=30, what="registered")
            out, err = sweeper.communicate(timeout=SWEEP_SECONDS + 30)
            assert sweeper.returncode == 0, err
            statuses = json.loads(out)
            # A report run: hall2 is an account for the SIP checks, no phone of its own.
            report = pbx.deploy("--data", "televoc_verify=report")
            yield Sweep(pbx, fleet, statuses, report)
        finally:
            if sweeper.poll() is None:
                sweeper.kill()
                sweeper.wait(timeout=10)
            fleet.stop()


def test_the_sweeper_gets_seven_404s_then_403s_until_fail2ban_drops_it(sweep):
    statuses = sweep.statuses
    assert statuses[:7] == [404] * 7, statuses  # 7 unknown MACs: not armed
    assert statuses[7] == 403, statuses  # the 8th: refused as a sweeper, from then on
    answered = [s for s in statuses if s]
    assert answered[8:] == [403] * (len(answered) - 8), statuses  # never a 404 again: no more guesses
    assert statuses[-3:] == [0, 0, 0], statuses  # then no answer at all: banned
    assert len(statuses) < SWEEP_COUNT, "the sweep ran out of requests before the ban"
    log = sweep.pbx.log()
    assert len(re.findall(rf"refused 404 unknown MAC 000413EE\w+ from {re.escape(SWEEPER)}$", log, re.M)) == 7
    assert (
        f"refused 403 sweeping (8 unknown MACs within 24 h, refused until unlocked): 000413EE0007 from {SWEEPER}"
    ) in log
    assert "LOCKED" not in log


def test_the_sweep_jail_bans_the_sweeper_from_every_port(sweep):
    pbx = sweep.pbx
    assert SWEEPER in pbx.banned(SWEEP_JAIL)
    assert SWEEPER not in pbx.banned(REFUSAL_JAIL)  # 7 refusals, ban_after 20: the sweep line banned it
    # no answer on the provisioning port (fail2ban lists the address before its action is in place)
    wait_for(lambda: pbx.http(SWEEPER, "/televoc/directory.xml") == "000", 10, "the ban in place")
    right = pbx.passwords()["hall2"]
    assert not pbx.lab.register("hall2", right, 5094, local_ip=SWEEPER, timeout=3)  # none on SIP either
    assert pbx.lab.register("hall2", right, 5095, local_ip=OTHER)  # the account works from elsewhere
    pbx.lab.unregister("hall2", right, 5095, local_ip=OTHER)


def test_the_phone_got_its_settings_while_the_sweeper_was_refused_and_registered(sweep):
    log = sweep.pbx.log()
    served = re.search(rf"served {MAC} version [0-9a-f]{{16}} to {re.escape(PHONE)}$", log, re.M)
    refused = log.find("refused 403 sweeping")
    assert served and 0 <= refused < served.start(), log[-3000:]
    state = sweep.fleet.state(MAC)
    assert state["registered"] and state["registered_as"] == "hall1" and state["last_fetch_status"] == 200
    assert avail(sweep.pbx), sweep.pbx.lab.asterisk("pjsip show contacts")


def test_the_phone_keeps_working_after_the_ban(sweep):
    """A NOTIFY makes the phone fetch its settings again (within its window, from its own
    address) and register again, while the sweeper stays banned."""
    before = sweep.fleet.state(MAC)
    sweep.pbx.lab.asterisk("pjsip send notify televoc-check-sync endpoint hall1")
    after = sweep.fleet.wait(
        MAC,
        lambda s: s["notifies"] > before["notifies"] and s["fetches"] > before["fetches"] and s["registered"],
        timeout=30,
        what="fetched again after a NOTIFY",
    )
    assert after["last_fetch_status"] == 200
    wait_for(lambda: avail(sweep.pbx), 30, "hall1 to answer Asterisk's qualify again")
    assert SWEEPER in sweep.pbx.banned(SWEEP_JAIL)
    assert sweep.pbx.http(SWEEPER, f"/televoc/{MAC}.xml") == "000"


def test_the_deploy_names_the_sweeper_apart_and_the_phone_is_ready(sweep):
    output = sweep.report.output
    assert sweep.report.returncode == 0, output
    assert re.search(rf"^\s*hall1\s+2001\s+sip:hall1@{re.escape(PHONE)}:5061\S*\s+Avail", output, re.M), output
    assert re.search(
        rf"the provisioning server refuses 1 address for sweeping MACs: {re.escape(SWEEPER)} \(8 unknown MACs, "
        r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\. They get no phone's settings and fail2ban bans them",
        output,
    ), output
    assert "LOCKED" not in output
    assert f"refused requests from: {SWEEPER}" not in output  # named once, as a sweeper
