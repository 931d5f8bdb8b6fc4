"""Asterisk killed (kill -9) at the start of each step of a run that changes the PBX: it comes
back by itself (Restart=always), serving, with every phone registered and every account with
its password; the next run converges. The harness: lab/faultsteps.py."""

import pytest

from lab.faultsteps import FaultSteps


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    with FaultSteps.up(tmp_path_factory.mktemp("kill")) as p:
        yield p


def test_asterisk_killed_at_each_step_of_a_run(pbx):
    steps = pbx.calibrate()
    assert len(steps) >= 10, steps  # every step of deploy.py that a changing run has

    def kill(proc) -> None:
        pid = pbx.lab.run("systemctl show -p MainPID --value asterisk.service", check=False).stdout.strip()
        assert pid not in ("", "0"), "no Asterisk to kill"
        pbx.lab.run(f"kill -9 {pid}")

    assert pbx.at_each_step(kill, lambda code, output: []) == []
