"""Paging groups, intercoms and conference rooms (services.yml) in the lab, proven from the
SIP messages and the RTP each party sees (docs/services.md). Each phone is a SIPp process
(lab/callee.py) whose media is an RtpPeer (lab/media.py): it sends a tone from the port its
SDP names and counts what arrives there.

The tests share one lab and one deploy of tests/lab_tests/services_event (module fixture);
each test starts the phones it needs and stops them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from lab.callee import Callee, Dial, Message
from lab.deploys import Deployment, event_from
from lab.lab import Lab
from lab.media import RtpPeer, answer_sdp, sdp_address
from lab.wait import wait_for

pytestmark = pytest.mark.lab

EVENT = Path(__file__).resolve().parent / "services_event"
PHONE_NUMBERS = {"m2": "1002"}
PORTS = {"boss": 5301, "stage": 5302, "m1": 5303, "m2": 5304, "m3": 5305, "out": 5306, "talker": 5307}
# The two auto-answer requests of every page's and intercom's INVITE (docs/services.md, 'How a
# phone answers by itself'): snom's, Yealink's and Poly's header, and Grandstream's and Cisco's.
AUTOANSWER = "<http://127.0.0.1/autoanswer>;info=alert-autoanswer;delay=0"
CALL_INFO = "<sip:127.0.0.1>;answer-after=0"

# 20 ms packets: a party that hears the other side for about 3 s gets about 150; one that
# hears nothing gets none (a few stray ones at most, while a call is set up).
HEARD = 75
SILENT = 10


def asks_to_answer(invite: Message) -> bool:
    """The INVITE carries both auto-answer requests, each once."""
    headers = [line.split(":", 1)[0].strip().lower() for line in invite.text.splitlines() if ":" in line]
    once = headers.count("alert-info") == 1 and headers.count("call-info") == 1
    return once and invite.header("Alert-Info") == AUTOANSWER and invite.header("Call-Info") == CALL_INFO


class Services(Deployment):
    @contextlib.contextmanager
    def phones(self, **how: str):
        """Start these phones (name="ring", "busy" or "answer:<s>"), each with an RtpPeer its
        answer's SDP names, each registered and Avail; yields name -> (Callee, RtpPeer)."""
        passwords = self.passwords()
        started: dict[str, tuple[Callee, RtpPeer]] = {}
        try:
            for name, h in how.items():
                peer = RtpPeer.start(self.lab, seconds=90)
                mode, _, after = h.partition(":")
                callee = Callee.start(
                    self.lab,
                    name,
                    passwords[name],
                    PORTS[name],
                    mode=mode,
                    answer_after=float(after or 0),
                    rtp_port=peer.port,
                )
                started[name] = (callee, peer)
            wait_for(lambda: all(self.contacts().get(n) == "Avail" for n in started), 20, f"{', '.join(how)} Avail")
            yield started
        finally:
            for callee, peer in started.values():
                callee.stop()
                peer.finish()
            self.lab.asterisk("channel request hangup all")

    def dial(self, caller: str, number: str, port: int, hold: float = 4, dtmf: bool = False) -> tuple[Dial, RtpPeer]:
        peer = RtpPeer.start(self.lab, seconds=hold + 60)
        call = Dial.start(
            self.lab,
            caller,
            self.passwords()[caller],
            number,
            port,
            hold=hold,
            timeout=hold + 40,
            rtp_port=peer.port,
            dtmf=dtmf,
        )
        return call, peer


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    work = tmp_path_factory.mktemp("services")
    with Lab(work / "lab") as lab:
        pbx = Services.prepare(lab, work, event_from(work / "event", EVENT))
        run = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        yield pbx


def answered(call: Dial, peer: RtpPeer, timeout: float = 15) -> None:
    """Wait for the 200 OK, then talk: the peer sends to Asterisk's address in it."""
    wait_for(lambda: call.first(200) is not None or call.final() is not None, timeout, "the call to be answered")
    assert call.first(200) is not None, f"not answered: {call.final()}"
    peer.send_to(answer_sdp(call))


def talk_back(callee: Callee, peer: RtpPeer, timeout: float = 15) -> Message:
    """Wait for the callee's INVITE, then talk: its peer sends to Asterisk's address in it."""
    wait_for(lambda: callee.invites(), timeout, "an INVITE")
    invite = callee.invites()[0]
    peer.send_to(sdp_address(invite))
    return invite


def answered_by_itself(callee: Callee) -> bool:
    """The phone sent 200 OK to the INVITE (its scenario answers at once, as a phone that
    obeys the auto-answer request does)."""
    return any(not m.received and m.status == 200 and m.cseq_method == "INVITE" for m in callee.messages())


def test_a_page_reaches_every_member_at_once_asks_it_to_answer_and_carries_the_callers_voice_one_way(pbx):
    with pbx.phones(m1="answer:0", m2="answer:0", m3="answer:0", out="answer:0") as phones:
        call, peer = pbx.dial("boss", "1800", 5401, hold=4)
        answered(call, peer)
        members = {n: talk_back(*phones[n]) for n in ("m1", "m2", "m3")}  # m3: paused in hall, paged all the same
        call.wait(timeout=60)
        caller = peer.finish()
        for name, invite in members.items():
            callee, member = phones[name]
            assert asks_to_answer(invite), f"{name}: {invite.text}"
            assert answered_by_itself(callee), f"{name} did not answer"
            heard = member.finish()
            assert heard.loud >= HEARD, f"{name} did not hear the caller: {heard}"
            assert heard.sent >= HEARD, f"{name} did not talk: {heard}"
        start = call.sent_invite().time
        spread = max(i.time for i in members.values()) - min(i.time for i in members.values())
        assert spread < 1.0, f"the members were called {spread:.2f} s apart"
        assert min(i.time for i in members.values()) - start < 2.0
        assert caller.received >= HEARD and caller.loud <= SILENT, f"the caller heard the members: {caller}"
        assert phones["out"][0].invites() == [], "a phone outside the paging group got the page"


def in_use(pbx: Services, name: str) -> bool:
    """`pjsip list endpoints` shows the phone's endpoint in use (its row: `Endpoint: m2/1002  In use  1 of inf`)."""
    rows = (line.split() for line in pbx.lab.asterisk("pjsip list endpoints").splitlines())
    return any(row[:2] == ["Endpoint:", f"{name}/{PHONE_NUMBERS[name]}"] and "In use" in " ".join(row) for row in rows)


def test_a_member_in_a_call_is_skipped_by_a_page(pbx):
    with pbx.phones(m1="answer:0", m2="answer:0") as phones:
        busy, busy_peer = pbx.dial("talker", "1002", 5402, hold=12)
        answered(busy, busy_peer)
        talk_back(*phones["m2"])
        wait_for(lambda: in_use(pbx, "m2"), 5, "m2's device state to be in use")  # what Page()'s s looks at
        call, peer = pbx.dial("boss", "1800", 5403, hold=3)
        answered(call, peer)
        talk_back(*phones["m1"])
        call.wait(timeout=60)
        assert len(phones["m1"][0].invites()) == 1, "the idle member was not paged"
        m2 = phones["m2"][0].invites()
        assert len(m2) == 1 and m2[0].header("Alert-Info") != AUTOANSWER and m2[0].header("Call-Info") is None, (
            f"the member in a call got the page: {[i.text for i in m2]}"
        )
        busy.wait(timeout=60)
        assert busy.first(200) is not None and "BYE" not in [m.method for m in busy.messages() if m.received], (
            "the call of the member was disturbed"
        )


def test_only_the_callers_of_a_paging_group_may_page(pbx):
    with pbx.phones(m1="answer:0") as phones:
        call, _peer = pbx.dial("out", "1800", 5404)
        call.wait(timeout=30)
        assert call.final() is not None and call.final().status == 403, call.final()
        assert phones["m1"][0].invites() == [], "a phone that may not page paged"


def test_an_intercom_is_answered_at_once_and_carries_audio_both_ways(pbx):
    with pbx.phones(stage="answer:0", out="answer:0") as phones:
        call, peer = pbx.dial("boss", "1801", 5405, hold=4)
        answered(call, peer)
        invite = talk_back(*phones["stage"])
        call.wait(timeout=60)
        assert asks_to_answer(invite), invite.text
        assert answered_by_itself(phones["stage"][0])
        stage, boss = phones["stage"][1].finish(), peer.finish()
        assert stage.loud >= HEARD, f"stage did not hear the backoffice: {stage}"
        assert boss.loud >= HEARD, f"the backoffice did not hear stage: {boss}"
        assert phones["out"][0].invites() == []


def test_an_intercom_works_the_other_way_and_for_nobody_else(pbx):
    with pbx.phones(boss="answer:0", stage="answer:0") as phones:
        back, peer = pbx.dial("stage", "1801", 5406, hold=2)
        answered(back, peer)
        assert asks_to_answer(talk_back(*phones["boss"]))
        back.wait(timeout=60)
        other, _ = pbx.dial("out", "1801", 5407)
        other.wait(timeout=30)
        assert other.final() is not None and other.final().status == 403, other.final()
        assert len(phones["boss"][0].invites()) == 1 and phones["stage"][0].invites() == []


def test_three_callers_in_a_conference_room_hear_each_other(pbx):
    calls = {name: pbx.dial(name, "1851", 5410 + i, hold=6) for i, name in enumerate(("m1", "m2", "out"))}
    for call, peer in calls.values():
        answered(call, peer)
    for call, _ in calls.values():
        call.wait(timeout=60)
    heard = {name: peer.finish() for name, (_, peer) in calls.items()}
    for name, counts in heard.items():
        assert counts.loud >= HEARD, f"{name} did not hear the others: {heard}"
        assert counts.sent >= HEARD


def room_takes(pbx, pin: str, wrong_pin: str, port: int) -> None:
    """Two callers of room orga (1850) who key in `pin` get in and hear each other; one who
    keys in `wrong_pin` three times is hung up on."""
    right = {name: pbx.dial(name, "1850", port + i, hold=10, dtmf=True) for i, name in enumerate(("m1", "m2"))}
    wrong, wrong_peer = pbx.dial("out", "1850", port + 5, hold=25, dtmf=True)
    for call, peer in [*right.values(), (wrong, wrong_peer)]:
        answered(call, peer)
    for _call, peer in right.values():
        peer.dtmf(f"{pin}#")
    for _ in range(3):  # ConfBridge asks three times
        wrong_peer.dtmf(f"{wrong_pin}#")
        # (the digits of the next try queue behind these; the prompts in between are cut short)
    wrong.wait(timeout=60)
    for call, _ in right.values():
        call.wait(timeout=60)
    refused = wrong_peer.finish()
    byes = [m for m in wrong.messages() if m.received and m.method == "BYE"]
    assert byes, f"the caller with a wrong PIN was not hung up on: {wrong.messages()[-1].text}"
    assert byes[0].time - wrong.first(200).time < 20, "the wrong PIN was not refused within three tries"
    heard = {name: peer.finish() for name, (_, peer) in right.items()}
    for name, (call, _) in right.items():
        assert not [m for m in call.messages() if m.received and m.method == "BYE"], f"{name} was hung up on"
        assert heard[name].loud >= HEARD, f"{name} did not get into the room: {heard}"
    assert refused.sent >= HEARD, refused  # it kept talking until the PBX hung up


def test_a_conference_room_with_a_pin_takes_the_right_pin_and_refuses_a_wrong_one(pbx):
    room_takes(pbx, "0815", "1234", 5420)


PINS_PATH = "/var/lib/televoc/confbridge-pins.conf"


def test_a_changed_pin_is_live_and_is_only_in_the_pins_file(pbx):
    """The PIN is only in the PINs file (root:asterisk 0640, outside the Nix store): not in
    the store, the module or /etc/asterisk, nor in the output of a --diff run, which names it
    as the word pin. A changed PIN is live after the run: the reload re-reads confbridge.conf
    (a store file, mtime 1, unchanged) because the file it includes changed."""
    new = "90731846"
    services = pbx.event / "services.yml"
    text = services.read_text()
    assert 'pin: "0815"' in text
    try:
        services.write_text(text.replace('pin: "0815"', f'pin: "{new}"'))
        run = pbx.deploy("--diff", "-vv", "--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        assert "~ room orga (1850): pin" in run.output, run.output
        assert new not in run.output
        found = pbx.lab.run(f"grep -rlF -- '{new}' /nix/store /etc/nixos /etc/asterisk/ || true").stdout
        assert found.strip() == "", f"the PIN is in {found}"
        assert pbx.lab.run(f"stat -c '%a %U %G' {PINS_PATH}").stdout.split() == ["640", "root", "asterisk"]
        assert pbx.lab.run(f"grep -cxF -- 'pin={new}' {PINS_PATH}").stdout.strip() == "1"
        room_takes(pbx, new, "0815", 5430)
    finally:
        services.write_text(text)
        back = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert back.returncode == 0, back.output


def loaded(listing: str) -> set[str]:
    """The modules `module show like` lists as running."""
    rows = (line.split() for line in listing.splitlines())
    return {row[0] for row in rows if row and row[0].endswith(".so") and "Running" in row}


@pytest.mark.parametrize("module", ["app_page.so", "app_confbridge.so", "bridge_softmix.so", "res_timing_timerfd.so"])
def test_the_modules_of_paging_and_rooms_run(pbx, module):
    listing = pbx.lab.asterisk(f"module show like {module.removesuffix('.so')}")
    assert module in loaded(listing), listing
