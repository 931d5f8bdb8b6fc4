"""fail2ban starts after the provisioning server, whatever the load: fail2ban exits for good
at start when a log file one of its jails reads is missing, and the server (a simple unit)
counts as started once forked, before its Python opens the log. Its unit creates the log
first (ExecStartPre, as its user), so the log is there the moment fail2ban may start.
"""

from __future__ import annotations

import pytest

from lab.deploys import Deployment
from lab.lab import Lab
from lab.wait import wait_for

LOG = "/var/log/televoc-provisioning/access.log"
JAILS = ("televoc-sip", "televoc-provisioning", "televoc-mac-sweep")


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("f2bstart")
    with Lab(tmp_path / "lab") as lab:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text("name: f2bstart\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\n")
        (event / "phones.yml").write_text(
            "phones:\n  - {name: hall1, extension: 2001, mac: '000413A00001', model: snom320}\n"
        )
        deployment = Deployment.prepare(lab, tmp_path, event)
        run = deployment.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        yield lab


def test_the_servers_log_exists_once_its_unit_started_and_fail2ban_then_runs_every_jail(pbx):
    """The log is there when `systemctl start` returns (ExecStartPre ran; without it this
    holds only when the server's Python won the race), owned by the server."""
    pbx.run("systemctl stop fail2ban.service televoc-provisioning.service")
    pbx.run(f"rm -f {LOG}")
    pbx.run("systemctl start televoc-provisioning.service", timeout=120)
    assert pbx.run(f"stat -c %U {LOG}", check=False).stdout.strip() == "televoc-provisioning"
    pbx.run("systemctl start fail2ban.service", timeout=120)
    wait_for(lambda: all(j in pbx.run("fail2ban-client status", check=False).stdout for j in JAILS), 60, "the jails")
    assert pbx.run("systemctl is-active fail2ban.service", check=False).stdout.strip() == "active"


def test_without_the_log_fail2ban_fails_for_good_naming_the_jail(pbx):
    """What the unit's ExecStartPre prevents: a server that has not opened its log yet (here
    stopped by a signal, on a loaded host just slow) when fail2ban starts."""
    pid = pbx.run("systemctl show -p MainPID --value televoc-provisioning.service").stdout.strip()
    assert pid.isdigit() and pid != "0", pid
    pbx.run(f"systemctl stop fail2ban.service; kill -STOP {pid}; rm -f {LOG}")
    try:
        pbx.run("systemctl start fail2ban.service", check=False, timeout=120)
        wait_for(
            lambda: pbx.run("systemctl is-active fail2ban.service", check=False).stdout.strip() == "failed",
            60,
            "fail2ban to fail",
        )
        journal = pbx.run("journalctl -u fail2ban -n 100000").stdout
        assert "Have not found any log file for 'televoc-" in journal, journal[-2000:]
    finally:
        pbx.run(f"kill -CONT {pid}", check=False)
