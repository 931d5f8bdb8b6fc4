"""Several venues: refused before any host is touched when numbers cannot be told apart, cut
into one Directory per venue, and rendered so that the PBXes peer with each other. No host;
tests/lab_tests/test_venues.py proves it with two labs and real calls."""

from pathlib import Path

import pytest

from roles.asterisk.render import render_asterisk
from roles.event import EventError, load_directory, venue_directory

from .eventdirs import assert_named, write
from .eventdirs import problems as load_problems

EVENT = (
    "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
    "venues:\n  hall: {numbers: '1', address: 10.80.0.1}\n  camp: {numbers: ['2', '3'], address: 10.80.0.2}\n"
)
PHONES = (
    "phones:\n  - {name: h1, extension: 1001, display_name: Hall One}\n  - {name: c1, extension: 2001}\n"
    "  - {name: c2, extension: 3001, forward: {no_answer: h1}}\n"
)


def make(tmp_path: Path, event: str = EVENT, phones: str = PHONES, groups: str | None = None) -> Path:
    return write(tmp_path, event, phones, groups)


def problems(tmp_path, **kwargs) -> list[str]:
    return load_problems(make(tmp_path, **kwargs))


def test_each_venue_gets_its_own_phones_its_peers_and_the_others_numbers(tmp_path):
    event = load_directory(make(tmp_path))
    camp = venue_directory(event, "camp")
    assert [a.name for a in camp.accounts] == ["c1", "c2"]
    assert [(p.name, p.address, p.numbers) for p in camp.venue.peers] == [("hall", "10.80.0.1", ("1",))]
    assert camp.venue.remote == (("h1", "1001"),)
    hall = venue_directory(event, "hall")
    assert hall.venue.peers[0].password == camp.venue.peers[0].password  # both ends share it


def test_a_host_must_name_a_venue_of_the_event(tmp_path):
    event = load_directory(make(tmp_path))
    for name, text in ((None, "the host has no televoc_venue"), ("ghost", "televoc_venue 'ghost' is no venue")):
        with pytest.raises(EventError) as info:
            venue_directory(event, name)
        assert text in info.value.problems[0] and "'televoc_venue': 'hall'" in info.value.problems[0]


def test_a_venue_pbx_peers_with_the_others_and_sends_their_numbers_there(tmp_path):
    camp = venue_directory(load_directory(make(tmp_path)), "camp")
    config = render_asterisk(camp)
    pjsip, dialplan = config.conf_files["pjsip.conf"], config.conf_files["extensions.conf"]
    assert "[televoc-venue-hall]\ntype=identify\nendpoint=televoc-venue-hall\nmatch=10.80.0.1\n" in pjsip
    assert "identify_by=ip\ndeny=0.0.0.0/0.0.0.0\npermit=10.80.0.1\n" in config.conf_files["pjsip_endpoints.conf"]
    assert camp.venue.peers[0].password in config.secrets
    assert all(camp.venue.peers[0].password not in text for text in config.conf_files.values())
    assert (
        "exten => _1.,1,Set(CALLERID(name)=${TV_CALLER_NAME})\n same => n,Dial(PJSIP/${EXTEN}@televoc-venue-hall,,b(televoc-to-venue^s^1))"
        in dialplan
    )
    assert (
        " same => n,ExecIf($[${HANGUPCAUSE} = 3 | ${HANGUPCAUSE} = 18 | ${HANGUPCAUSE} = 41 | ${HANGUPCAUSE} = 102]?Hangup(34))  ; venue hall's PBX not reached: 503\n"
        " same => n,Hangup()  ; else what venue hall's PBX answered, passed on\n"
    ) in dialplan
    assert '${REGEX("^(2|3)" ${EXTEN})}' in dialplan  # calls from peers: only this venue's numbers
    assert ' same => n,GotoIf($["${DIALSTATUS}" = "NOANSWER"]?1001,1)' in dialplan  # a forward to the hall


def test_venue_problems_are_named_at_once(tmp_path):
    event = EVENT.replace("numbers: ['2', '3']", "numbers: ['2', '10']")
    phones = (
        PHONES
        + "  - {name: x, extension: 5001}\n  - {name: p1, extension: 1002, pickup: mix}\n  - {name: p2, extension: 2002, pickup: mix}\n"
    )
    groups = "groups:\n  - {name: desk, number: 1100, members: [h1, c1]}\n"
    found = problems(
        tmp_path,
        event=event + "trunk: {registrar: 10.77.0.2, username: '6000', block: 6000}\n",
        phones=phones,
        groups=groups,
    )
    expected = [
        "venues.camp: numbers 2: '10' overlaps '1' of venue hall",
        "trunk.venue is missing: with venues, name the venue whose PBX registers the trunk (hall, camp)",
        "phone 3 (c2): extension: '3001' is in no venue's numbers",
        "phone 4 (x): extension: '5001' is in no venue's numbers",
        "phone 5 (p1): pickup: 'mix' has phones in venues camp, hall",
        "phone 6 (p2): pickup: 'mix' has phones in venues camp, hall",
        "group 1 (desk): members: desk -> c1 is in venue camp, the group in venue hall",
    ]
    assert_named(found, expected, exactly=False)  # and the trunk's missing password file


TRUNK = (
    "trunk: {registrar: 10.77.0.2, username: '6000', block: 6000, venue: hall, dial_out: [h1, c1], secret_file: t}\n"
)


def test_a_phone_of_a_venue_without_the_trunk_calls_out_over_the_peering_to_the_trunks_venue(tmp_path):
    """dial_out names c1 of the camp, the trunk is at the hall: the camp's PBX sends c1's
    outside calls to the hall's (prefix and all), which takes outside numbers from its peers
    into its dial-out context: that checks the caller again, and refuses a call that came in
    over the trunk (the header between the peers says so)."""
    event = load_directory(write(tmp_path, EVENT + TRUNK, PHONES, files={"t": ("trunk-pw-Qx7-Lm2\n", 0o600)}))
    camp, hall = venue_directory(event, "camp"), venue_directory(event, "hall")
    assert camp.trunk is None and hall.venue.dial_out is None
    assert (camp.venue.dial_out.venue, camp.venue.dial_out.prefix, camp.venue.dial_out.callers) == (
        "hall",
        "0",
        ("2001",),
    )
    config = render_asterisk(camp)
    dialplan = config.conf_files["extensions.conf"]
    assert "televoc-trunk" not in config.conf_files["pjsip.conf"] and "[televoc-from-trunk]" not in dialplan
    assert ' same => n,GotoIf($["${EXTEN:0:1}" = "0"]?televoc-dial-out,${EXTEN:1},1)\n' in dialplan
    out = dialplan.split("[televoc-dial-out]\n")[1].split("\n\n")[0]
    assert "exten => _X.,1,GotoIf(${DIALPLAN_EXISTS(televoc-may-dial-out,${TV_FROM},1)}?out)\n" in out
    assert " same => n,Dial(PJSIP/0${EXTEN}@televoc-venue-hall,,b(televoc-to-venue^s^1))\n" in out
    assert "venue hall's PBX not reached: 503" in out
    callers = dialplan.split("[televoc-may-dial-out]\n")[1].split("\n\n")[0]
    assert callers == "; the phones of this venue that may call out (trunk.dial_out)\nexten => 2001,1,NoOp()"
    hall_plan = render_asterisk(hall).conf_files["extensions.conf"]
    from_venue = hall_plan.split("[televoc-from-venue]\n")[1]
    assert ' same => n,GotoIf($["${EXTEN:0:1}" = "0"]?televoc-dial-out,${EXTEN:1},1)' in from_venue
    hall_out = hall_plan.split("[televoc-dial-out]\n")[1].split("\n\n")[0]
    assert (
        '1,GotoIf($["${TV_FROM_TRUNK}" != "1" & ${DIALPLAN_EXISTS(televoc-may-dial-out,${TV_FROM},1)}]?out)' in hall_out
    )
    callers = hall_plan.split("[televoc-may-dial-out]\n")[1].split("\n\n")[0]
    assert callers.endswith("\nexten => 1001,1,NoOp()\nexten => 2001,1,NoOp()")


def test_without_a_trunk_no_venue_calls_out(tmp_path):
    camp = venue_directory(load_directory(make(tmp_path)), "camp")
    assert camp.venue.dial_out is None
    assert "televoc-dial-out" not in render_asterisk(camp).conf_files["extensions.conf"]
