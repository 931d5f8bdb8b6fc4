"""A filesystem televoc writes fills up at each step of a run that changes the PBX: the state
directory (passwords, records) and NixOS's configuration directory (televoc's module). A run
that needed to write there fails naming the file and the cause in the kernel's words, no
partial file is left, the PBX serves with every phone registered and every account with its
password; once there is room again, the next run converges. The harness: lab/faultsteps.py."""

import pytest

from lab.faultsteps import STATE, FaultSteps, disk_fault_round


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    with FaultSteps.up(tmp_path_factory.mktemp("full")) as p:
        p.calibrate()
        yield p


@pytest.mark.parametrize("directory", [STATE, "/etc/nixos/televoc"])
def test_a_filesystem_filling_up_at_each_step_of_a_run(pbx, directory):
    assert disk_fault_round(pbx, directory, "full") == []
