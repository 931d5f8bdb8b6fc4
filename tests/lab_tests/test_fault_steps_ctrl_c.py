"""Ctrl-C at each step of a run that changes the PBX: the run exits 130 (never 0), the PBX
serves with every phone registered and every account with its password, and the next run
says the last one did not finish and converges. The harness: lab/faultsteps.py."""

import signal

import pytest

from lab.faultsteps import FaultSteps


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    with FaultSteps.up(tmp_path_factory.mktemp("ctrl-c")) as p:
        yield p


def test_ctrl_c_at_each_step_of_a_run(pbx):
    steps = pbx.calibrate()
    assert len(steps) >= 10, steps

    def interrupt(proc) -> None:
        proc.send_signal(signal.SIGINT)  # pyinfra has printed the step's name: it runs it now

    def exits_130(code: int, output: str) -> list[str]:
        if code != 130:
            return [f"exit {code} after Ctrl-C:\n{output[-1500:]}"]
        if "televoc: interrupted (Ctrl-C): the run stopped." not in output:
            return [f"no word of the interruption:\n{output[-1500:]}"]
        return []

    assert pbx.at_each_step(interrupt, exits_130) == []
