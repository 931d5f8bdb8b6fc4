"""Groups, forwards, pickup and loud callers: the checks (refused before any host is touched,
with file, line, entry, field and fix) and the routes they resolve into. No host involved;
tests/lab_tests/test_routing.py proves the routes with real calls."""

import re
from pathlib import Path

import pytest

from roles.asterisk.render import render_asterisk
from roles.event import load_directory
from roles.event.routing import resolve

from .eventdirs import assert_named, write
from .eventdirs import problems as load_problems

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
PHONES = """\
phones:
  - {name: a1, extension: 1001}
  - {name: a2, extension: 1002}
  - {name: a3, extension: 1003}
  - {name: boss, extension: 1600}
"""


def make(tmp_path: Path, groups: str | None = None, phones: str = PHONES, event: str = EVENT) -> Path:
    return write(tmp_path, event, phones, groups)


def problems(tmp_path, groups=None, **kwargs) -> list[str]:
    return load_problems(make(tmp_path, groups, **kwargs))


def routes(tmp_path, groups=None, **kwargs):
    return resolve(load_directory(make(tmp_path, groups, **kwargs)))


def test_a_group_rings_its_members_after_their_delays_and_skips_paused_ones(tmp_path):
    r = routes(
        tmp_path,
        "groups:\n  - name: desk\n    number: 1100\n    short: Desk\n    timeout: 30\n"
        "    members: [a1, {name: a2, delay: 4}, {name: a3, paused: true}]\n",
    ).route("1100")
    assert [(leg.name, leg.delay) for leg in r.legs] == [("a1", 0), ("a2", 4)]
    assert r.dial == "PJSIP/a1&Local/1002@televoc-wait-4" and r.timeout == 30 and r.prefix == "[Desk] "
    assert not r.ring_at_once


def test_nested_delays_add_up_and_a_phone_reached_twice_rings_once_after_the_smaller_delay(tmp_path):
    r = routes(
        tmp_path,
        "groups:\n"
        "  - {name: inner, number: 1100, members: [a1, {name: a2, delay: 2}]}\n"
        "  - name: outer\n    number: 1200\n    timeout: 30\n"
        "    members: [{name: inner, delay: 5}, {name: a2, delay: 3}]\n",
    ).route("1200")
    assert [(leg.name, leg.delay) for leg in r.legs] == [("a2", 3), ("a1", 5)]
    assert r.ring_at_once  # every leg starts later: the caller hears ringing meanwhile


def test_a_member_that_forwards_always_is_replaced_by_its_target(tmp_path):
    phones = PHONES.replace("{name: a1, extension: 1001}", "{name: a1, extension: 1001, forward: {always: boss}}")
    r = routes(tmp_path, "groups:\n  - {name: desk, number: 1100, members: [a1, a2]}\n", phones=phones)
    assert [leg.name for leg in r.route("1100").legs] == ["boss", "a2"]
    assert r.route("1001").always == "1600"


def test_forwards_become_the_numbers_a_route_falls_back_to(tmp_path):
    phones = PHONES.replace(
        "{name: a1, extension: 1001}",
        "{name: a1, extension: 1001, forward: {no_answer: desk, no_answer_after: 7, busy: boss, unavailable: a3}}",
    )
    r = routes(tmp_path, "groups:\n  - {name: desk, number: 1100, members: [a1, a2]}\n", phones=phones).route("1001")
    assert (r.timeout, r.no_answer, r.busy, r.unavailable) == (7, "1100", "1600", "1003")


def test_the_dialplan_is_flat_and_jumps_only_to_the_forward_targets(tmp_path):
    phones = PHONES.replace("{name: a1, extension: 1001}", "{name: a1, extension: 1001, forward: {busy: boss}}")
    dialplan = render_asterisk(
        load_directory(
            make(
                tmp_path,
                "groups:\n  - {name: desk, number: 1100, members: [a1, {name: a2, delay: 4}]}\n",
                phones=phones,
            )
        )
    ).conf_files["extensions.conf"]
    assert ' same => n,GotoIf($["${DIALSTATUS}" = "BUSY"]?1600,1)  ; busy: boss\n' in dialplan
    assert "exten => 1100,1,Set(CALLERID(name)=[desk] ${TV_CALLER_NAME})\n" in dialplan
    assert " same => n,Dial(PJSIP/a1&Local/1002@televoc-wait-4,20,b(televoc-predial^s^1))\n" in dialplan
    assert "[televoc-wait-4]\nexten => _X.,1,Wait(4)\n same => n,Goto(televoc-ring,${EXTEN},1)\n" in dialplan
    assert "exten => 1002,1,Dial(PJSIP/a2,,b(televoc-predial^s^1))" in dialplan


def test_each_number_sits_in_the_context_of_its_last_digit_which_the_numbers_context_includes(tmp_path):
    """Asterisk loads a context in time quadratic in its extensions: the numbers are spread
    over one context per last digit, and televoc-numbers includes each of them (then the
    test numbers), so a call finds every number there as before."""
    groups = "groups:\n  - {name: desk, number: 1100, members: [a1, a2]}\n"
    dialplan = render_asterisk(load_directory(make(tmp_path, groups))).conf_files["extensions.conf"]
    numbers = dialplan.split("[televoc-numbers]\n")[1].split("\n\n")[0]
    includes = re.findall(r"^include => (\S+)$", numbers, re.M)
    assert includes == [f"televoc-numbers-{d}" for d in "0123"] + ["televoc-test-numbers"]
    assert "exten =>" not in numbers
    where = {
        number: context
        for context, body in re.findall(
            r"^\[(televoc-numbers-\d|televoc-test-numbers)\]\n(.*?)(?=\n\n\[|\Z)", dialplan, re.M | re.S
        )
        for number in re.findall(r"^exten => (\d+),1,", body, re.M)
    }
    assert where == {
        "1001": "televoc-numbers-1",
        "1002": "televoc-numbers-2",
        "1003": "televoc-numbers-3",
        "1100": "televoc-numbers-0",
        "1600": "televoc-numbers-0",
        "100": "televoc-test-numbers",
        "101": "televoc-test-numbers",
    }


ROUTE_END = ' same => n,Hangup(${IF($["${DIALSTATUS}" = "BUSY"]?17:19)})  ; busy: 486, else 480 (nobody answered, or nobody could)'


def test_a_call_no_forward_takes_ends_with_the_cause_the_caller_hears_as_486_or_480(tmp_path):
    """Asterisk answers a bare Hangup() after a failed Dial() with 603 Decline (cause 16 has no
    SIP response in chan_pjsip): every number ends with cause 17 (486) or 19 (480) instead."""
    phones = PHONES.replace("{name: a1, extension: 1001}", "{name: a1, extension: 1001, forward: {busy: boss}}")
    groups = (
        "groups:\n  - {name: desk, number: 1100, members: [a1, {name: a2, delay: 4}]}\n"
        "  - {name: closed, number: 1400, members: [{name: a3, paused: true}]}\n"
    )
    dialplan = render_asterisk(load_directory(make(tmp_path, groups, phones=phones))).conf_files["extensions.conf"]
    parts = re.findall(r"^\[televoc-numbers-\d\]\n(.*?)(?:\n\n|\Z)", dialplan, re.M | re.S)
    numbers = "\n".join(parts)
    blocks = dict(re.findall(r"^; (\d+): .*\n((?: same => .*\n|exten => .*\n)+)", numbers + "\n", re.M))
    assert sorted(blocks) == ["1001", "1002", "1003", "1100", "1400", "1600"]
    assert all(block.rstrip("\n").endswith(ROUTE_END) for block in blocks.values()), numbers
    assert "Hangup()" not in numbers
    assert " same => n,Set(DIALSTATUS=CHANUNAVAIL)  ; every member is paused\n" + ROUTE_END in blocks["1400"]
    assert 'GotoIf($["${DIALSTATUS}" = "BUSY"]?1600,1)  ; busy: boss\n' + ROUTE_END in blocks["1001"]
    assert " same => n,Hangup(1)  ; 404: no such number\n" in dialplan.split("[from-internal]\n")[1]


def test_loud_callers_are_resolved_to_extensions_through_groups(tmp_path):
    phones = PHONES.replace(
        "{name: a1, extension: 1001}", "{name: a1, extension: 1001, ringer: Silent, loud_from: [orga, a3]}"
    )
    r = routes(
        tmp_path, "groups:\n  - {name: orga, number: 1900, members: [boss, {name: a2, paused: true}]}\n", phones=phones
    )
    assert r.loud == {"1001": ("1002", "1003", "1600")}  # a paused member still calls as orga
    assert r.route("1001").loud_arg == "1001"


def test_pickup_groups_go_on_the_endpoints_and_the_code_into_features_conf(tmp_path):
    phones = PHONES.replace("extension: 1001}", "extension: 1001, pickup: hall}").replace(
        "extension: 1002}", "extension: 1002, pickup: hall}"
    )
    config = render_asterisk(load_directory(make(tmp_path, phones=phones, event=EVENT + "pickup_code: '*9'\n")))
    assert config.conf_files["pjsip_endpoints.conf"].count("named_call_group=hall\nnamed_pickup_group=hall\n") == 2
    assert "pickupexten=*9\n" in config.conf_files["features.conf"]


def test_every_routing_problem_is_named_at_once_with_file_line_and_fix(tmp_path):
    phones = PHONES + (
        "  - {name: na, extension: 1010, forward: {no_answer: nobody}}\n"
        "  - {name: me, extension: 1011, forward: {busy: me}}\n"
        "  - {name: lone, extension: 1012, pickup: hall}\n"
        "  - {name: both, extension: 1013, forward: {always: a1, busy: a2}}\n"
        "  - {name: num, extension: 1014, forward: {busy: 1600}}\n"
    )
    groups = (
        "groups:\n"
        "  - {name: desk, number: 1100, timeout: 10, members: [a1, {name: a2, delay: 10}, a1]}\n"
        "  - {name: a3, number: 1101, members: [a1]}\n"
        "  - {name: clash, number: 1002, members: [a1]}\n"
        "  - {name: echoes, number: 101, members: [a1]}\n"
    )
    found = problems(tmp_path, groups, phones=phones)
    expected = [
        "phones.yml:6: phone 5 (na): forward.no_answer: 'nobody' is no phone or group of the event",
        "phones.yml:7: phone 6 (me): forward.busy: 'me' is the phone itself: a forward to itself goes nowhere",
        "phones.yml:8: phone 7 (lone): pickup: 'hall' has no other phone",
        "phones.yml:9: phone 8 (both): forward.always: always sends every call on, so busy would never happen",
        "phones.yml:10: phone 9 (num): forward.busy: is the number 1600, but a forward or loud_from names a phone or a group",
        "groups.yml:2: group 1 (desk): members 2.delay: 10 s is not below the group's timeout (10 s)",
        "groups.yml:2: group 1 (desk): members 3.name: 'a1' is already member 1 of this group: list each member once",
        "groups.yml:3: group 2 (a3): name: 'a3' is already the name of phone 3 (a3)",
        "groups.yml:4: group 3 (clash): number: '1002' is already used by phone 2 (a2)",
        "groups.yml:5: group 4 (echoes): number: '101' is already used by the echo test number",
    ]
    assert_named(found, expected)


@pytest.mark.parametrize(
    "phones_forward,groups,path",
    [
        ("{busy: a2}", "", "a1 -> a2 (forward busy) -> a1 (forward no_answer)"),
        ("", "  - {name: g2, number: 1201, members: [g1]}\n", "g1 -> g2 (member) -> g1 (member)"),
        ("{always: g1}", "", "a1 -> g1 (forward always) -> a1 (member)"),
    ],
)
def test_a_cycle_is_refused_naming_its_path(tmp_path, phones_forward, groups, path):
    phones = PHONES.replace("{name: a2, extension: 1002}", "{name: a2, extension: 1002, forward: {no_answer: a1}}")
    if phones_forward:
        phones = phones.replace(
            "{name: a1, extension: 1001}", "{name: a1, extension: 1001, forward: " + phones_forward + "}"
        )
    members = "[g2]" if groups else "[a1]"
    found = problems(tmp_path, f"groups:\n  - {{name: g1, number: 1200, members: {members}}}\n" + groups, phones=phones)
    cycles = [p for p in found if "a cycle" in p]
    assert len(cycles) == 1 and f"a cycle: {path}: a call would go round for ever" in cycles[0], found


def test_a_forward_to_a_group_that_has_the_phone_as_member_is_no_cycle(tmp_path):
    # desk1 rings, then the desk group rings desk1 again with the others: it ends.
    phones = PHONES.replace("{name: a1, extension: 1001}", "{name: a1, extension: 1001, forward: {no_answer: desk}}")
    r = routes(tmp_path, "groups:\n  - {name: desk, number: 1100, members: [a1, a2]}\n", phones=phones)
    assert r.route("1001").no_answer == "1100"


def test_a_delay_reached_only_through_nesting_is_checked_against_the_outer_timeout(tmp_path):
    found = problems(
        tmp_path,
        "groups:\n"
        "  - {name: inner, number: 1100, timeout: 30, members: [{name: a1, delay: 8}]}\n"
        "  - {name: outer, number: 1200, timeout: 10, members: [{name: inner, delay: 5}]}\n",
    )
    assert (
        len(found) == 1
        and "group 2 (outer): timeout: 10 s is not above the 13 s after which outer -> inner -> a1" in found[0]
    )


def test_a_pickup_code_that_is_an_extension_is_refused(tmp_path):
    found = problems(tmp_path, event=EVENT + "pickup_code: '1002'\n")
    assert len(found) == 1 and "phone 2 (a2): extension: '1002' is the pickup code" in found[0]


def test_a_group_whose_nested_group_has_an_unknown_member_is_named_not_a_crash(tmp_path):
    """The nested group's problem is reported; the outer group, which rings through it, is
    left out of the checks that follow members (it cannot be resolved), not crashed on."""
    groups = (
        "groups:\n  - {name: desk, number: 1100, members: [a1, ghost]}\n"
        "  - {name: outer, number: 1200, members: [desk, a3]}\n"
    )
    assert_named(
        problems(tmp_path, groups), ["groups.yml:2: group 1 (desk): members 2.name: 'ghost' is no phone or group"]
    )


def test_an_outside_forward_of_a_group_whose_member_cannot_be_resolved_is_named_not_a_crash(tmp_path):
    event = EVENT + "trunk: {registrar: 10.77.0.2, username: '6000', block: 6000, dial_out: [outer], secret_file: t}\n"
    groups = (
        "groups:\n  - {name: desk, number: 1100, members: [ghost]}\n"
        "  - {name: outer, number: 1200, members: [desk], forward: {no_answer: '0555'}}\n"
    )
    found = load_problems(write(tmp_path, event, PHONES, groups, files={"t": ("pw-trunk-1234\n", 0o600)}))
    assert_named(found, ["groups.yml:2: group 1 (desk): members 1.name: 'ghost' is no phone or group"])
