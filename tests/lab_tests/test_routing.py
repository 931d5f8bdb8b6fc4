"""Call routing in the lab, measured from the SIP messages the phones get: who got an INVITE,
when, with which headers. Groups with delays, nested and paused members, forwards on no
answer, busy and unavailable, pickup, Alert-Info classes, and the final response a caller
gets when nobody takes the call (docs/routing.md, "What the caller hears"). Each phone is a SIPp process
(lab/callee.py) that traces every message with its time.

The tests share one lab and one deploy of tests/lab_tests/routing_event (module fixture); each
test starts the phones it needs and stops them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.callee import Callee, Dial, callees
from lab.deploys import Deployment, event_from
from lab.lab import Lab
from lab.wait import wait_for

pytestmark = pytest.mark.lab

EVENT = Path(__file__).resolve().parent / "routing_event"
PORTS = {
    "a1": 5101,
    "a2": 5102,
    "a3": 5103,
    "boss": 5104,
    "na": 5110,
    "bz": 5111,
    "un": 5112,
    "p1": 5120,
    "p2": 5121,
    "q": 5130,
    "caller": 5140,
}
TOLERANCE = 0.5


class Routing(Deployment):
    def phones(self, **how: str):
        """Start these phones (name="ring", "busy" or "answer:<s>"), each registered and Avail."""
        passwords = self.passwords()
        return callees(
            {n: (self.lab, passwords[n], PORTS[n], h) for n, h in how.items()},
            lambda started: all(self.contacts().get(n) == "Avail" for n in started),
            f"{', '.join(how)} registered and Avail",
        )

    def dial(self, caller: str, number: str, port: int, **kwargs) -> Dial:
        return Dial.start(self.lab, caller, self.passwords()[caller], number, port, **kwargs)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    work = tmp_path_factory.mktemp("routing")
    with Lab(work / "lab") as lab:
        pbx = Routing.prepare(lab, work, event_from(work / "event", EVENT))
        run = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        pbx.first_run = run
        yield pbx


def invite_from(callee: Callee) -> float:
    invites = callee.invites()
    assert invites, f"no INVITE reached the phone:\n{callee.messages()}"
    return invites[0].time


def test_a_group_rings_each_member_after_its_delay_and_the_first_to_answer_gets_the_call(pbx):
    with pbx.phones(a1="ring", a2="answer:1") as phones:
        call = pbx.dial("caller", "1100", 5201, hold=1)
        call.wait(timeout=40)
        start = call.sent_invite().time
        a1, a2 = invite_from(phones["a1"]), invite_from(phones["a2"])
        assert a1 - start < 1.0, f"the member at 0 s got its INVITE {a1 - start:.2f} s after the call"
        assert abs((a2 - a1) - 4) <= TOLERANCE, f"the member at 4 s rang {a2 - a1:.2f} s after the first"
        assert call.first(200) is not None, f"the call was not answered: {call.final()}"
        cancel = phones["a1"].cancels()
        assert cancel and cancel[0].time >= call.first(200).time - 0.5, "the other member kept ringing"
        assert "[Desk]" in phones["a2"].invites()[0].header("From"), "the callee cannot see the group"


def test_a_nested_group_rings_its_members_and_a_paused_member_never_rings(pbx):
    with pbx.phones(a1="ring", a2="ring", a3="answer:1") as phones:
        call = pbx.dial("caller", "1200", 5202, timeout=40)
        call.wait(timeout=50)
        start = call.sent_invite().time
        assert invite_from(phones["a1"]) - start < 1.0
        assert abs(invite_from(phones["a2"]) - start - 4) <= TOLERANCE
        assert phones["a3"].invites() == [], "the paused member rang"
        assert call.final() is not None and call.final().status >= 400


def test_the_caller_hears_ringing_at_once_when_every_member_is_delayed(pbx):
    with pbx.phones(a1="ring") as phones:
        call = pbx.dial("caller", "1300", 5203, timeout=30)
        call.wait(timeout=40)
        start = call.sent_invite().time
        ringing = call.first(180) or call.first(183)
        assert ringing is not None and ringing.time - start < 1.0, "no ringing before the first member rang"
        assert abs(invite_from(phones["a1"]) - start - 3) <= TOLERANCE


def test_no_answer_forward_rings_the_target_after_n_seconds(pbx):
    with pbx.phones(na="ring", a3="answer:1") as phones:
        call = pbx.dial("caller", "1010", 5204)
        call.wait(timeout=40)
        na, a3 = invite_from(phones["na"]), invite_from(phones["a3"])
        assert abs(a3 - na - 3) <= TOLERANCE, f"the no-answer target rang {a3 - na:.2f} s after the phone"
        assert phones["na"].cancels(), "the phone kept ringing after the forward"
        assert call.first(200) is not None


def test_busy_forward_rings_the_target_when_the_phone_answers_486(pbx):
    with pbx.phones(bz="busy", a3="answer:1") as phones:
        call = pbx.dial("caller", "1011", 5205)
        call.wait(timeout=40)
        bz, a3 = invite_from(phones["bz"]), invite_from(phones["a3"])
        assert 0 <= a3 - bz < 1.5
        assert call.first(200) is not None


def test_unavailable_forward_rings_the_target_at_once_when_the_phone_is_not_registered(pbx):
    assert "un" not in pbx.contacts()
    with pbx.phones(a3="answer:1") as phones:
        call = pbx.dial("caller", "1012", 5206)
        call.wait(timeout=40)
        start = call.sent_invite().time
        assert invite_from(phones["a3"]) - start < 1.5, "the forward waited for a timeout"
        assert call.first(200) is not None


def test_pickup_answers_a_call_ringing_at_another_phone_of_the_pickup_group(pbx):
    with pbx.phones(p1="ring", p2="ring") as phones:
        call = pbx.dial("caller", "1020", 5207, hold=3, timeout=40)
        wait_for(lambda: phones["p1"].invites(), 10, "p1 to ring")
        pickup = pbx.dial("p2", "*8", 5208, hold=1)
        pickup.wait(timeout=30)
        call.wait(timeout=40)
        assert pickup.first(200) is not None, f"the pickup was not answered: {pickup.final()}"
        assert call.first(200) is not None, "the caller's call was not answered by the pickup"
        assert phones["p1"].cancels(), "the ringing phone kept ringing after the pickup"
        assert phones["p2"].invites() == [], "the pickup phone was rung instead of picking up"


@pytest.mark.parametrize(
    "caller,number,expected",
    [
        ("caller", "1030", "televoc-direct"),
        ("boss", "1030", "televoc-loud"),
        ("caller", "1100", "televoc-group"),
    ],
)
def test_alert_info_carries_the_class_the_callee_rings_with(pbx, caller, number, expected):
    callee = "q" if number == "1030" else "a1"
    with pbx.phones(**{callee: "answer:0.5"}) as phones:
        call = pbx.dial(caller, number, 5209, hold=0.5)
        call.wait(timeout=40)
        alert = phones[callee].invites()[0].header("Alert-Info")
        assert alert == f"<http://127.0.0.1/>;info={expected}", alert


def final_status(call: Dial) -> int | None:
    """The final response the caller got to its call (what its phone shows or plays)."""
    final = call.final()
    return final.status if final is not None else None


def cause(call: Dial) -> str | None:
    """The hangup cause Asterisk ended the call with, as its final response says it
    (`Reason: Q.850;cause=19`)."""
    final = call.final()
    return final.header("Reason") if final is not None else None


def test_the_caller_hears_480_when_nobody_answers_a_phone(pbx):
    with pbx.phones(a1="ring") as phones:
        call = pbx.dial("caller", "1001", 5210, timeout=40)  # rings the event's ring_timeout: 20 s
        call.wait(timeout=50)
        assert phones["a1"].invites() and phones["a1"].cancels(), "a1 did not ring, or kept ringing"
        assert final_status(call) == 480, call.final()
        assert cause(call) == "Q.850;cause=19", call.final()  # no answer (was 16, normal clearing: 603)


def test_the_caller_hears_480_when_nobody_answers_a_group(pbx):
    with pbx.phones(a1="ring") as phones:
        call = pbx.dial("caller", "1300", 5211, timeout=30)  # late: a1 after 3 s, for 8 s
        call.wait(timeout=40)
        assert phones["a1"].invites() and phones["a1"].cancels(), "a1 did not ring, or kept ringing"
        assert final_status(call) == 480, call.final()


def test_the_caller_hears_486_when_the_phone_is_busy(pbx):
    with pbx.phones(a1="busy") as phones:
        call = pbx.dial("caller", "1001", 5212)
        call.wait(timeout=30)
        assert phones["a1"].invites(), "a1 was not called"
        assert final_status(call) == 486, call.final()
        assert cause(call) == "Q.850;cause=17", call.final()


def test_the_caller_hears_404_for_a_number_nobody_has(pbx):
    call = pbx.dial("caller", "1999", 5213)
    call.wait(timeout=30)
    assert final_status(call) == 404, call.final()
    assert cause(call) == "Q.850;cause=1", call.final()


@pytest.mark.parametrize(
    "number,what",
    [
        ("1040", "a phone that is not registered"),
        ("1410", "a group whose every phone is not registered"),
        ("1400", "a group whose every member is paused"),
    ],
)
def test_the_caller_hears_480_when_no_phone_can_take_the_call(pbx, number, what):
    assert "gone" not in pbx.contacts()
    call = pbx.dial("caller", number, 5214)
    call.wait(timeout=30)
    start = call.sent_invite().time
    assert final_status(call) == 480, f"{what}: {call.final()}"
    assert call.final().time - start < 5, f"{what}: the caller waited {call.final().time - start:.1f} s"


def dead_groups(output: str) -> list[str]:
    """The groups the run listed as having no phone that can answer now."""
    match = re.search(r"groups have no phone that can answer now:\n\s*groups: ([^\n]+(?:\n\s{5,}[^\n]+)*)", output)
    return sorted(re.sub(r"\s+", " ", match[1]).replace(",", " ").split()) if match else []


def test_the_deploy_lists_the_groups_nobody_can_answer(pbx):
    assert dead_groups(pbx.first_run.output) == ["away", "closed", "desk", "late", "orga", "outer"], (
        pbx.first_run.output
    )
    with pbx.phones(a1="ring"):
        run = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
    assert run.returncode == 0, run.output
    assert dead_groups(run.output) == ["away", "closed", "orga"], run.output
