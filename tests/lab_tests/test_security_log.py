"""fail2ban starts after Asterisk, and the SIP jail reads Asterisk's security log: fail2ban
exits for good at start when a log file a jail reads is missing, and Asterisk (a forking unit)
counts as started once it forks, before its logger makes the file. On a fresh host both start
in one go; the asterisk unit's preStart makes the file first, as Asterisk's, 0640.

The lab's start of Asterisk waits until it has fully booted (its logger has made the file by
then), so only the file's mode tells who made it: Asterisk's logger makes it 0644, the unit's
preStart 0640, before Asterisk runs.
"""

from __future__ import annotations

import re
import secrets

import pytest

from lab.deploys import Deployment
from lab.lab import Lab
from lab.wait import wait_for

LOG = "/var/log/asterisk/security"
GUESSER = "10.23.0.66"


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("seclog")
    with Lab(tmp_path / "lab") as lab:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text("name: seclog\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\n")
        (event / "phones.yml").write_text("phones:\n  - {name: hall2, extension: 2002}\n")
        pbx = Deployment.prepare(lab, tmp_path, event)
        run = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        lab.phone_address(GUESSER)
        yield pbx


def failed(pbx: Deployment) -> int:
    """The SIP jail's count of failures it read (-1: no such jail running)."""
    status = pbx.lab.run("fail2ban-client status televoc-sip", check=False).stdout
    found = re.search(r"Total failed:\s*(\d+)", status)
    return int(found.group(1)) if found else -1


def test_the_security_log_is_made_before_asterisk_runs_and_fail2ban_reads_what_asterisk_writes(pbx):
    lab = pbx.lab
    lab.run("systemctl stop fail2ban.service asterisk.service", timeout=120)
    lab.run(f"rm -f {LOG}")
    lab.run("systemctl start asterisk.service", timeout=180)
    # Made by the unit's preStart (0640) before Asterisk ran, not by Asterisk's logger (0644).
    assert lab.run(f"stat -c '%U:%G %a' {LOG}").stdout.strip() == "asterisk:asterisk 640"
    lab.run("systemctl start fail2ban.service", timeout=120)
    wait_for(lambda: failed(pbx) >= 0, 60, "the SIP jail")
    assert lab.run("systemctl is-active fail2ban.service", check=False).stdout.strip() == "active"
    before = failed(pbx)
    # Asterisk writes its security events into that very file, and the jail reads them.
    assert not lab.register("hall2", "wrong-" + secrets.token_hex(8), 5091, local_ip=GUESSER, timeout=3)
    wait_for(lambda: failed(pbx) > before, 30, "the SIP jail to read the wrong password")
    events = lab.run(f"cat {LOG}").stdout
    assert re.search(rf'SecurityEvent="(InvalidPassword|ChallengeResponseFailed)".*{re.escape(GUESSER)}', events), (
        events
    )
    assert lab.run(f"stat -c '%U:%G %a' {LOG}").stdout.strip() == "asterisk:asterisk 640"


def test_without_the_log_fail2ban_fails_for_good_naming_the_sip_jail(pbx):
    """What the preStart prevents: the file missing when fail2ban starts (here removed while
    Asterisk runs; on a fresh host, Asterisk's logger not there yet). A restart of Asterisk
    makes it again, and fail2ban then starts."""
    lab = pbx.lab
    lab.run(f"systemctl stop fail2ban.service; rm -f {LOG}", timeout=120)
    lab.run("systemctl start fail2ban.service", check=False, timeout=120)
    wait_for(
        lambda: lab.run("systemctl is-active fail2ban.service", check=False).stdout.strip() == "failed",
        60,
        "fail2ban to fail",
    )
    journal = lab.run("journalctl -u fail2ban -n 100000").stdout
    assert "Have not found any log file for 'televoc-sip' jail" in journal, journal[-2000:]
    lab.run("systemctl restart asterisk.service", timeout=180)
    assert lab.run(f"stat -c '%U:%G %a' {LOG}").stdout.strip() == "asterisk:asterisk 640"
    lab.run("systemctl start fail2ban.service", check=False, timeout=120)
    wait_for(lambda: failed(pbx) >= 0, 60, "the SIP jail")
