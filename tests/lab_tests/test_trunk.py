"""The trunk to an upstream network, in the lab: a second lab's Asterisk plays the upstream
(lab/upstream.py: account 6000, its own phones 5001 and 5002), linked to the event's
lab by a veth pair (10.77.0.1 <-> 10.77.0.2). Measured from the SIP messages the phones on
both sides get (SIPp traces, lab/callee.py) and from what the deploy says.

The tests share both labs and the deploy of tests/lab_tests/trunk_event (module fixture).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.callee import Dial, callees
from lab.deploys import Deployment, event_from, event_secrets
from lab.lab import Lab
from lab.listing import files_holding, listing, registrations
from lab.upstream import BLOCK, PHONE_PASSWORD, Upstream
from lab.wait import wait_for

pytestmark = pytest.mark.lab

EVENT = Path(__file__).resolve().parent / "trunk_event"
TRUNK_PASSWORD = "trunk-pw-Qx7-Lm2-Zr9"
PORTS = {"l1": 5101, "l2": 5102}
TRUNK_LINE = "the trunk 6000 at 10.77.0.2"


class Trunked(Deployment):
    upstream: Upstream = None
    trunk_secret: Path = None

    def local(self, **how: str):
        """The event's phones (name="ring", "busy" or "answer:<s>"), each registered and Avail."""
        passwords = self.passwords()
        return callees(
            {n: (self.lab, passwords[n], PORTS[n], h) for n, h in how.items()},
            lambda started: all(self.contacts().get(n) == "Avail" for n in started),
            "local phones Avail",
        )

    def remote(self, **how: str):
        """The upstream's phones 5001, 5002 (SIPp callees in the upstream's lab)."""
        lab = self.upstream.lab
        return callees(
            {n: (lab, PHONE_PASSWORD, 5200 + int(n[-1]), h) for n, h in how.items()},
            lambda started: all(c.registered() for c in started.values()) and self.upstream_avail(started),
            "upstream phones registered and Avail at the upstream",
        )

    def upstream_avail(self, names) -> bool:
        """The upstream's Asterisk sends calls only to a contact that answered its qualify; a
        callee registering again where an earlier one had stopped stays Unavail until the next
        qualify (30 s): ask for it now."""
        listing = self.upstream.lab.asterisk("pjsip show contacts")
        waiting = [n for n in names if not re.search(rf"Contact:\s+{n}/\S+\s+\S+\s+Avail\b", listing)]
        for name in waiting:
            self.upstream.lab.asterisk(f"pjsip qualify {name}")
        return not waiting


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    work = tmp_path_factory.mktemp("trunk")
    secret = work / "trunk.secret"  # event-extra.yml names it: secret_file: ../trunk.secret
    secret.write_text(TRUNK_PASSWORD + "\n")
    secret.chmod(0o600)
    with Lab(work / "lab") as lab, Lab(work / "upstream") as up:
        pbx = Trunked.prepare(lab, work, event_from(work / "event", EVENT))
        pbx.upstream = Upstream.start(up, lab, TRUNK_PASSWORD)
        pbx.trunk_secret = secret
        run = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        wait_for(lambda: "Registered" in lab.asterisk("pjsip show registrations"), 20, "the trunk to register")
        yield pbx


def test_dial_out_reaches_the_upstream_phone_shown_as_block_plus_extension(pbx):
    with pbx.remote(**{"5001": "answer:0.5"}) as remote:
        call = Dial.start(pbx.lab, "l1", pbx.passwords()["l1"], "05001", 5301, hold=0.5)
        call.wait(timeout=40)
        invites = remote["5001"].invites()
        assert invites, f"no INVITE reached the upstream's phone: {call.final()}"
        assert "<sip:60001001@" in invites[0].header("From"), invites[0].header("From")
        assert call.first(200) is not None


def test_a_phone_not_in_dial_out_cannot_call_out(pbx):
    with pbx.remote(**{"5001": "answer:0.5"}) as remote:
        call = Dial.start(pbx.lab, "l2", pbx.passwords()["l2"], "05001", 5302)
        call.wait(timeout=30)
        assert call.final() is not None and call.final().status == 403, call.final()
        assert remote["5001"].invites() == []


def test_dial_in_reaches_a_local_phone_and_a_local_group_with_a_number_to_call_back(pbx):
    with pbx.local(l1="answer:0.5", l2="ring") as local:
        call = Dial.start(pbx.upstream.lab, "5002", PHONE_PASSWORD, "60001001", 5303, hold=0.5)
        call.wait(timeout=40)
        invite = local["l1"].invites()[0]
        assert "<sip:05002@" in invite.header("From"), invite.header("From")
        assert call.first(200) is not None
        group = Dial.start(pbx.upstream.lab, "5002", PHONE_PASSWORD, "60001100", 5304, hold=0.5)
        group.wait(timeout=40)
        assert len(local["l2"].invites()) == 1 and len(local["l1"].invites()) == 2, "the group did not ring both"
        assert group.first(200) is not None


def test_an_unknown_number_from_the_upstream_is_refused(pbx):
    with pbx.local(l1="answer:0.5") as local:
        call = Dial.start(pbx.upstream.lab, "5002", PHONE_PASSWORD, "60009999", 5305)
        call.wait(timeout=30)
        assert final_status(call) == 404, call.final()
        assert local["l1"].invites() == []


def final_status(call: Dial) -> int | None:
    """The final response the caller got to its call."""
    final = call.final()
    return final.status if final is not None else None


def test_a_call_in_over_the_trunk_can_never_go_out_again(pbx):
    with pbx.remote(**{"5001": "answer:0.5"}) as remote:
        call = Dial.start(pbx.upstream.lab, "5002", PHONE_PASSWORD, "600005001", 5306)
        call.wait(timeout=30)
        assert call.final() is not None and call.final().status >= 400 and call.first(200) is None
        assert remote["5001"].invites() == [], "a call from the trunk went out over it again"


@pytest.mark.parametrize("number", ["1800", "1801", "1802"])
def test_a_call_from_the_upstream_can_never_page_nor_use_an_intercom(pbx, number):
    """1800 pages every phone and any phone of the event may page it, 1801 only l1 may page,
    1802 is l1's and l2's intercom (trunk_event/services.yml): dialled from the upstream, each
    is refused with 403 and no phone of the event gets an INVITE."""
    with pbx.local(l1="answer:0", l2="answer:0") as local:
        call = Dial.start(pbx.upstream.lab, "5002", PHONE_PASSWORD, f"6000{number}", 5313)
        call.wait(timeout=30)
        assert final_status(call) == 403 and call.first(200) is None, call.final()
        assert local["l1"].invites() == [] and local["l2"].invites() == [], "a call from the trunk paged"


@pytest.mark.parametrize("claims", ["televoc-trunk", "6000"])
def test_invites_from_the_phone_network_claiming_to_be_the_upstream_do_not_reach_the_trunk(pbx, claims):
    with pbx.local(l1="answer:0.5") as local:
        call = Dial.start(pbx.lab, claims, "not-the-password", "60001001", 5307)
        call.wait(timeout=30)
        assert call.first(180) is None and call.first(200) is None
        assert call.final() is not None and call.final().status in (401, 403), call.final()
        assert local["l1"].invites() == []


def test_the_upstream_refusing_the_password_fails_strict_verification_naming_the_trunk(pbx):
    with pbx.local(l1="ring", l2="ring"):
        pbx.trunk_secret.write_text("a-wrong-password-42\n")
        try:
            run = pbx.deploy("--data", "televoc_register_wait=15")
            assert run.returncode != 0, run.output
            assert f"{TRUNK_LINE} is Rejected" in run.output, run.output
            assert "all 2 phones are registered" in run.output  # the trunk alone fails the run
            # televoc's words are the last the crew reads, after pyinfra's own last lines.
            end = run.output[run.output.index("No hosts remaining!") :]
            assert re.search(r"--> televoc: deploy.py did not finish on lab \(1 of 1 hosts\):", end), end
            assert f"[lab] {TRUNK_LINE} is Rejected: rejected by the upstream" in end, end
            assert "the upstream does not answer" not in run.output, run.output
            assert "calls to and from outside fail until it is registered" in end, end
        finally:
            pbx.trunk_secret.write_text(TRUNK_PASSWORD + "\n")
        fixed = pbx.deploy("--data", "televoc_register_wait=30")
        assert fixed.returncode == 0, fixed.output
        assert f"{TRUNK_LINE} is registered" in fixed.output


def test_an_upstream_that_does_not_answer_is_named_as_such_last(pbx):
    # The upstream drops everything from the event's PBX: no answer to REGISTER nor OPTIONS.
    # Its registration still reads Registered until it is due; the run tells that apart.
    drop = "INPUT -s 10.77.0.1 -j DROP"
    with pbx.local(l1="ring", l2="ring"):
        pbx.upstream.lab.run(f"iptables -I {drop}")
        try:
            pbx.lab.asterisk("pjsip qualify televoc-trunk")  # the OPTIONS now, not within 60 s
            wait_for(lambda: "Unavail" in pbx.lab.asterisk("pjsip show contacts"), 15, "the upstream silent")
            run = pbx.deploy("--data", "televoc_register_wait=5")
            assert run.returncode != 0, run.output
            end = run.output[run.output.index("No hosts remaining!") :]
            assert f"[lab] {TRUNK_LINE} is " in end, end
            assert "the upstream does not answer Asterisk's OPTIONS: calls over it fail; check its address" in end
            assert "check the trunk's username and password" not in run.output, run.output
        finally:
            pbx.upstream.lab.run(f"iptables -D {drop}")
        pbx.lab.asterisk("pjsip qualify televoc-trunk")
        fixed = pbx.deploy("--data", "televoc_register_wait=40")
        assert fixed.returncode == 0, fixed.output


def test_a_forward_to_an_outside_number_goes_out_shown_as_the_callers_block_number(pbx):
    with pbx.local(l1="ring") as local, pbx.remote(**{"5001": "answer:0.5"}) as remote:
        call = Dial.start(pbx.lab, "l2", pbx.passwords()["l2"], "1001", 5308, hold=0.5)
        call.wait(timeout=40)
        rang, out = local["l1"].invites(), remote["5001"].invites()
        assert rang and out, f"l1 rang: {bool(rang)}, 5001 rang: {bool(out)}; {call.final()}"
        assert abs(out[0].time - rang[0].time - 2) <= 0.5, f"forwarded after {out[0].time - rang[0].time:.2f} s"
        assert "<sip:60001002@" in out[0].header("From"), out[0].header("From")
        assert call.first(200) is not None


def test_a_call_in_over_the_trunk_is_never_forwarded_out_again(pbx):
    with pbx.local(l1="ring") as local, pbx.remote(**{"5001": "answer:0.5"}) as remote:
        call = Dial.start(pbx.upstream.lab, "5002", PHONE_PASSWORD, "60001001", 5309)
        call.wait(timeout=40)
        assert local["l1"].invites(), "the call did not reach l1"
        assert remote["5001"].invites() == [], "a call from the trunk was forwarded out over it again"
        # the forward does not apply to it: its caller hears what it would without one
        assert call.first(200) is None and final_status(call) == 480, call.final()


@pytest.mark.parametrize(
    "number,how,expected",
    [
        ("60001002", {"l2": "busy"}, 486),
        ("60001100", {"l1": "ring", "l2": "ring"}, 480),  # desk: nobody answers in its 5 s
    ],
)
def test_the_upstreams_caller_hears_what_the_event_answers(pbx, number, how, expected):
    with pbx.local(**how) as local:
        call = Dial.start(pbx.upstream.lab, "5002", PHONE_PASSWORD, number, 5310, timeout=40)
        call.wait(timeout=50)
        assert all(phone.invites() for phone in local.values()), "a phone did not ring"
        assert final_status(call) == expected, call.final()


@pytest.mark.parametrize("number,how,expected", [("05001", "busy", 486), ("0999", None, 404)])
def test_what_the_upstream_answers_a_call_out_reaches_the_caller(pbx, number, how, expected):
    with pbx.remote(**({"5001": how} if how else {})):
        call = Dial.start(pbx.lab, "l1", pbx.passwords()["l1"], number, 5311)
        call.wait(timeout=40)
        assert final_status(call) == expected, call.final()


def test_the_caller_hears_503_when_the_trunk_is_down(pbx):
    """The upstream's Asterisk stopped: the INVITE out gets no answer (pjsip gives up after
    32 s) or the trunk's qualify already found it unreachable. Last in this module: it brings
    the upstream back, but the others need not wait for that."""
    pbx.upstream.lab.run("systemctl stop asterisk")
    try:
        call = Dial.start(pbx.lab, "l1", pbx.passwords()["l1"], "05001", 5312, timeout=60)
        call.wait(timeout=70)
        assert final_status(call) == 503, call.final()
        assert call.final().time - call.sent_invite().time < 40
    finally:
        pbx.upstream.lab.run("systemctl start asterisk")
        wait_for(
            lambda: pbx.upstream.lab.asterisk("core show version").lstrip().startswith("Asterisk "),
            30,
            "the upstream's Asterisk",
        )
        pbx.lab.asterisk("pjsip send register televoc-trunk")
        wait_for(lambda: "Registered" in pbx.lab.asterisk("pjsip show registrations"), 30, "the trunk to register")


def test_a_teardown_whose_un_register_the_upstream_does_not_confirm_fails_naming_the_trunk(pbx, untouched):
    """Last in this module: it tears the event down while the upstream does not answer. All
    the rest goes; the trunk is named, then and in every teardown after, for as long as the
    upstream may still hold its registration (about an hour: longer than this test)."""
    up = pbx.upstream.lab
    assert registrations(up, BLOCK) != []
    up.run("systemctl stop asterisk.service")
    teardown = ("teardown.py", "--data", "televoc_reset_by_hand=all", "--data", "asterisk__unregister_wait=3")
    run = pbx.run(*teardown)
    assert run.returncode != 0, run.output
    assert "teardown incomplete: still left of the event on this PBX or its phones:" in run.output
    assert f"{TRUNK_LINE}: the upstream did not confirm the un-REGISTER within 3 s" in run.output, run.output
    assert listing(pbx.lab) == untouched  # everything else is gone
    assert files_holding(pbx.lab, event_secrets(pbx.event, pbx.secret)) == []
    up.run("systemctl start asterisk.service")
    wait_for(lambda: "Asterisk" in up.asterisk("core show version"), 20, "the upstream's Asterisk")
    assert registrations(up, BLOCK) != []  # the upstream kept it: what the run named is real
    again = pbx.run(*teardown)
    assert again.returncode != 0, again.output
    assert f"{TRUNK_LINE}: its un-REGISTER was not confirmed (" in again.output, again.output
    assert "the upstream may route calls to this PBX until about" in again.output
