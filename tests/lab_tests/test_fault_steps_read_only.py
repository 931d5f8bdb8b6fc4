"""The state directory (/var/lib/televoc) turns read-only at each step of a run that changes
the PBX: a run that needed to write there fails naming the cause in the kernel's words, no
partial file with passwords is left, the PBX serves with every phone registered and every
account with its password; once it is writable again, the next run converges. The harness:
lab/faultsteps.py."""

import pytest

from lab.faultsteps import STATE, FaultSteps


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    with FaultSteps.up(tmp_path_factory.mktemp("read-only")) as p:
        yield p


def test_the_state_directory_turning_read_only_at_each_step_of_a_run(pbx):
    steps = pbx.calibrate()
    assert len(steps) >= 10, steps
    state = pbx.lab.root / STATE.lstrip("/")
    # A small tmpfs over it, holding what it held (mounted where pyinfra's commands and
    # Asterisk see it: the lab's sshd mount namespace; the chroot has no mount command).
    pbx.in_sshd_namespace(
        f"cp -a {state} {state}.saved && mount -t tmpfs -o size=4m,mode=0750 tmpfs {state} "
        f"&& cp -a {state}.saved/. {state}/"
    )

    def read_only(proc) -> None:
        pbx.in_sshd_namespace(f"mount -o remount,ro {state}")

    def named(code: int, output: str) -> list[str]:
        pbx.in_sshd_namespace(f"mount -o remount,rw {state}")
        if code != 0 and "Read-only file system" not in output:
            return [f"failed without naming the cause:\n{output[-1500:]}"]
        return []

    try:
        assert pbx.at_each_step(read_only, named) == []
    finally:
        pbx.in_sshd_namespace(f"umount {state} && rm -rf {state}.saved")
