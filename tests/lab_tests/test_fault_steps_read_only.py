"""A directory televoc writes turns read-only at each step of a run that changes the PBX: the
state directory (passwords, records) and the run marker's. A run that needed to write there
fails naming the file and the cause in the kernel's words, no partial file with passwords is
left, the PBX serves with every phone registered and every account with its password; once
the directory is writable again, the next run converges. The harness: lab/faultsteps.py."""

import pytest

from lab.faultsteps import STATE, FaultSteps, disk_fault_round


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    with FaultSteps.up(tmp_path_factory.mktemp("read-only")) as p:
        p.calibrate()
        yield p


@pytest.mark.parametrize("directory", [STATE, "/var/lib/televoc-run"])
def test_a_directory_turning_read_only_at_each_step_of_a_run(pbx, directory):
    assert disk_fault_round(pbx, directory, "read-only") == []
