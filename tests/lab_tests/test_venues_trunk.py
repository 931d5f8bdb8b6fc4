"""A trunk at one venue of two: a call that came in over the trunk never goes out over it
again, even when it crosses to the other venue's PBX and is forwarded back. Three labs: the
hall (with the trunk), the camp, and the upstream (lab/upstream.py). Measured from the
SIP messages the phones get (SIPp traces).

The hall's h1 forwards calls it does not answer in 2 s to the upstream's 5001 ("05001"); the
camp's c1 forwards calls it does not answer in 2 s to h1. dial_out names h1 and the camp's c2,
whose outside calls go over the peering to the hall's PBX.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.callee import Dial, callees
from lab.lab import Lab
from lab.listing import files_holding, listing, registrations
from lab.upstream import BLOCK, PHONE_PASSWORD, Upstream
from lab.wait import wait_for
from tests.lab_tests.test_venues import Venues

pytestmark = pytest.mark.lab

EVENT = Path(__file__).resolve().parent / "venues_trunk_event"
TRUNK_PASSWORD = "trunk-pw-Vn4-Tq8-Hx2"


@pytest.fixture(scope="module")
def event(tmp_path_factory):
    work = tmp_path_factory.mktemp("venues-trunk")
    (work / "trunk.secret").write_text(TRUNK_PASSWORD + "\n")  # event-extra.yml names it
    (work / "trunk.secret").chmod(0o600)
    with Lab(work / "hall") as hall, Lab(work / "camp") as camp, Lab(work / "upstream") as up:
        v = Venues.prepare(work, EVENT, hall, camp)
        v.upstream = Upstream.start(up, hall, TRUNK_PASSWORD)
        v.upstream_before = registrations(up, BLOCK)  # what the upstream holds of the event: nothing yet
        run = v.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        wait_for(lambda: "Registered" in hall.asterisk("pjsip show registrations"), 20, "the trunk to register")
        wait_for(
            lambda: (
                v.contacts("camp").get("televoc-venue-hall") == "Avail"
                and v.contacts("hall").get("televoc-venue-camp") == "Avail"
            ),
            40,
            "the peering",
        )
        yield v


def final_status(call: Dial) -> int | None:
    """The final response the caller got to its call."""
    final = call.final()
    return final.status if final is not None else None


def phones(event, **where: str):
    """Callees that ring (never answer): name -> venue; and the upstream's 5001, answering."""
    pw = event.passwords()
    wanted = {n: (event.labs[v], pw[n], 5100 + i, "ring") for i, (n, v) in enumerate(where.items())}
    wanted["5001"] = (event.upstream.lab, PHONE_PASSWORD, 5201, "answer:0.5")
    return callees(
        wanted,
        lambda started: (
            started["5001"].registered() and all(event.contacts(v).get(n) == "Avail" for n, v in where.items())
        ),
        "the phones registered",
    )


def test_a_call_from_the_camp_forwarded_to_the_hall_goes_out_over_the_trunk(event):
    with phones(event, c1="camp", h1="hall") as p:
        call = Dial.start(event.labs["camp"], "c2", event.passwords()["c2"], "2001", 5301, hold=0.5)
        call.wait(timeout=40)
        c1, h1, out = p["c1"].invites(), p["h1"].invites(), p["5001"].invites()
        assert c1 and h1 and out, f"c1 {bool(c1)}, h1 {bool(h1)}, 5001 {bool(out)}: {call.final()}"
        assert "<sip:60002002@" in out[0].header("From"), out[0].header("From")  # block + the caller
        assert call.first(200) is not None


def test_a_call_in_over_the_trunk_forwarded_across_venues_never_goes_out_again(event):
    with phones(event, c1="camp", h1="hall") as p:
        call = Dial.start(event.upstream.lab, "5002", PHONE_PASSWORD, "60002001", 5302)
        call.wait(timeout=40)
        assert p["c1"].invites() and p["h1"].invites(), "the call did not cross to the camp and back"
        assert p["5001"].invites() == [], "a call from the trunk went out over it again"
        # h1's forward does not apply to it: 480, passed on by the camp, the hall and the upstream
        assert call.first(200) is None and final_status(call) == 480, call.final()


def test_a_phone_of_the_venue_without_the_trunk_calls_out_over_the_peering(event):
    """dial_out names c2, a phone of the camp: its outside call goes over the peering to the
    hall, whose PBX sends it out shown as the block + c2's extension; c1 is not named: 403."""
    pw = event.passwords()
    with phones(event) as p:
        call = Dial.start(event.labs["camp"], "c2", pw["c2"], "05001", 5303, hold=0.5)
        call.wait(timeout=40)
        out = p["5001"].invites()
        assert out, f"no INVITE reached the upstream's phone: {call.final()}"
        assert "<sip:60002002@" in out[0].header("From"), out[0].header("From")
        assert call.first(200) is not None
        refused = Dial.start(event.labs["camp"], "c1", pw["c1"], "05001", 5304)
        refused.wait(timeout=30)
        assert final_status(refused) == 403, refused.final()
        assert len(p["5001"].invites()) == 1, "a phone not in dial_out called out"


def test_the_upstreams_caller_hears_what_the_other_venue_answers(event):
    """60002002: c2 at the camp, not registered: the camp says 480, the hall passes it on to
    the upstream, which passes it on to its caller."""
    call = Dial.start(event.upstream.lab, "5002", PHONE_PASSWORD, "60002002", 5305)
    call.wait(timeout=40)
    assert final_status(call) == 480, call.final()


@pytest.mark.parametrize("number", ["2800", "2801"])
def test_a_call_from_the_upstream_crossing_to_the_other_venue_can_never_page_there(event, number):
    """2800 and 2801 are paging groups of the camp (services.yml; any phone of the event, or
    only c2, may page): the upstream's call reaches the hall, crosses to the camp with the
    caller shown as 0 + its number, and is told apart only by the header the hall adds. The
    camp refuses it with 403, passed on by the hall and the upstream; c1 gets no INVITE."""
    with phones(event, c1="camp") as p:
        call = Dial.start(event.upstream.lab, "5002", PHONE_PASSWORD, f"6000{number}", 5306)
        call.wait(timeout=40)
        assert final_status(call) == 403 and call.first(200) is None, call.final()
        assert p["c1"].invites() == [], "a call from the trunk paged at the other venue"


def test_one_teardown_leaves_both_pbxes_untouched_and_the_upstream_without_the_trunks_contact(event, untouched):
    """Last in this module: it tears the event down. The hall withdraws the trunk (un-REGISTER)
    before its registration goes; the upstream, an Asterisk of its own, drops the contact at
    once (a registration lasts 3600 s: nothing else removes it within this test)."""
    up = event.upstream.lab
    assert event.upstream_before == [] and registrations(up, BLOCK) != [], registrations(up, BLOCK)
    run = event.teardown()
    assert run.returncode == 0, run.output
    assert registrations(up, BLOCK) == event.upstream_before
    assert "[hall] the trunk 6000 at 10.77.0.2: un-REGISTERed, the upstream confirmed it" in run.output
    secrets = event.event_secrets()
    for venue, lab in event.labs.items():
        assert listing(lab) == untouched, venue
        assert files_holding(lab, secrets) == [], venue
    again = event.teardown()
    assert again.returncode == 0, again.output
    assert again.output.count("nothing left: nothing of the event was on this PBX or its phones any more") == 2
