"""The upstream trunk: refused before any host is touched when it cannot work, rendered so
that its password stays in the secrets file and only its sources can use it. No host;
tests/lab_tests/test_trunk.py proves it with real calls."""

from pathlib import Path

from roles.asterisk.render import render_asterisk
from roles.event import load_directory

from .eventdirs import assert_named, write
from .eventdirs import problems as load_problems

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
TRUNK = "trunk:\n  registrar: 10.77.0.2\n  username: '6000'\n  block: 6000\n  secret_file: trunk.secret\n"
PHONES = "phones:\n  - {name: a1, extension: 1001}\n  - {name: a2, extension: 1002}\n"
GROUPS = "groups:\n  - {name: orga, number: 1900, members: [a2]}\n"
PASSWORD = "trunk-pw-Qx7-Lm2"


def make(
    tmp_path: Path, trunk: str = TRUNK, phones: str = PHONES, password: str | None = PASSWORD, mode: int = 0o600
) -> Path:
    files = {"trunk.secret": (password + "\n", mode)} if password is not None else {}
    return write(tmp_path, EVENT + trunk, phones, GROUPS, files)


def problems(tmp_path, **kwargs) -> list[str]:
    return load_problems(make(tmp_path, **kwargs))


def test_the_password_goes_to_the_secrets_file_only(tmp_path):
    config = render_asterisk(load_directory(make(tmp_path)))
    assert f"username=6000\npassword={PASSWORD}\n" in config.secrets
    assert all(PASSWORD not in text for text in config.conf_files.values())


def test_only_the_upstreams_sources_can_use_the_trunk(tmp_path):
    files = render_asterisk(load_directory(make(tmp_path))).conf_files
    pjsip = files["pjsip.conf"]
    endpoint = files["pjsip_endpoints.conf"].split("[televoc-trunk]\ntype=endpoint\n")[1].split("\n\n")[0]
    assert "identify_by=ip\n" in endpoint and "deny=0.0.0.0/0.0.0.0\npermit=10.77.0.2" in endpoint
    assert "[televoc-trunk]\ntype=identify\nendpoint=televoc-trunk\nmatch=10.77.0.2\n" in pjsip
    assert "line=yes\n" in pjsip and "contact_user=6000\n" in pjsip


def test_dial_out_is_for_the_phones_named_and_calls_from_the_trunk_only_reach_the_events_numbers(tmp_path):
    dialplan = render_asterisk(load_directory(make(tmp_path, trunk=TRUNK + "  dial_out: [orga]\n"))).conf_files[
        "extensions.conf"
    ]
    callers = dialplan.split("[televoc-may-dial-out]\n")[1].split("\n\n")[0]
    assert "exten => 1002,1,NoOp()" in callers and "1001" not in callers  # a2 through orga
    from_trunk = dialplan.split("[televoc-from-trunk]\n")[1]
    assert "televoc-dial-out" not in from_trunk and "Dial(" not in from_trunk
    assert "exten => _6000X.,1,Set(__TV_FROM=)" in from_trunk


def test_by_default_no_phone_may_call_out(tmp_path):
    directory = load_directory(make(tmp_path))
    assert directory.trunk.callers == ()


def test_every_trunk_problem_is_named_at_once(tmp_path):
    found = problems(
        tmp_path,
        trunk=TRUNK.replace("block: 6000", "block: 6000\n  dial_out_prefix: '1'") + "  dial_out: [nobody]\n",
        password=None,
    )
    expected = [
        "phones.yml:2: phone 1 (a1): extension: '1001' starts with the dial-out prefix '1'",
        "phones.yml:3: phone 2 (a2): extension: '1002' starts with the dial-out prefix '1'",
        "groups.yml:2: group 1 (orga): number: '1900' starts with the dial-out prefix '1'",
        "event.yml:10: trunk: dial_out 1: 'nobody' is no phone or group of the event",
        "trunk.secret: the trunk's password file is missing, but event.yml has a trunk",
        "event.yml:8: trunk: dial_out_prefix: '1' begins the hello_world number '100'",
        "event.yml:8: trunk: dial_out_prefix: '1' begins the echo number '101'",
    ]
    assert_named(found, expected)


def test_a_trunk_password_file_others_can_read_is_refused(tmp_path):
    [p] = problems(tmp_path, mode=0o644)
    assert "the trunk's password file is open to others (mode 0644): chmod 600" in p


def test_a_registrar_by_name_needs_the_upstreams_addresses(tmp_path):
    [p] = problems(tmp_path, trunk=TRUNK.replace("10.77.0.2", "sip.example.org"))
    assert "trunk" in p and "add sources: [the upstream's IP addresses]" in p


def test_a_forward_to_an_outside_number_goes_out_for_calls_that_did_not_come_in_over_the_trunk(tmp_path):
    phones = PHONES.replace(
        "{name: a1, extension: 1001}", "{name: a1, extension: 1001, forward: {no_answer: '0301234'}}"
    )
    directory = load_directory(make(tmp_path, trunk=TRUNK + "  dial_out: [a1]\n", phones=phones))
    from roles.event.routing import resolve

    assert resolve(directory).route("1001").no_answer == "televoc-forward-out,301234"
    dialplan = render_asterisk(directory).conf_files["extensions.conf"]
    assert "?televoc-forward-out,301234,1)  ; no answer in 20 s: 0301234" in dialplan
    out = dialplan.split("[televoc-forward-out]\n")[1].split("\n\n")[0]
    assert 'exten => _X.,1,GotoIf($["${TV_FROM_TRUNK}" = "1"]?refused)' in out
    # the forward does not apply to a call from the trunk: its caller hears 486 or 480, as without one
    assert ' same => n(refused),Hangup(${IF($["${DIALSTATUS}" = "BUSY"]?17:19)})' in out
    assert " same => n,Set(__TV_FROM_TRUNK=1)" in dialplan.split("[televoc-from-trunk]\n")[1]


def test_a_forward_out_needs_dial_out_and_rings_no_group(tmp_path):
    phones = PHONES.replace("{name: a1, extension: 1001}", "{name: a1, extension: 1001, forward: {no_answer: '0301'}}")
    phones = phones.replace("{name: a2, extension: 1002}", "{name: a2, extension: 1002, forward: {always: '0302'}}")
    found = problems(tmp_path, trunk=TRUNK + "  dial_out: [orga]\n", phones=phones)
    assert_named(
        found,
        [
            "phone 1 (a1): forward.no_answer: '0301' is an outside number, and a forward out is a call out at the "
            "phone's cost, but trunk.dial_out does not name a1",
            "phone 2 (a2): forward.always: '0302' is an outside number, and a2 is a group's member",
        ],
    )


def crossing_end(what: str) -> str:
    return (
        f" same => n,ExecIf($[${{HANGUPCAUSE}} = 3 | ${{HANGUPCAUSE}} = 18 | ${{HANGUPCAUSE}} = 41 | ${{HANGUPCAUSE}} = 102]?Hangup(34))  ; {what} not reached: 503\n"
        f" same => n,Hangup()  ; else what {what} answered, passed on\n"
    )


def test_a_call_out_ends_with_503_when_the_upstream_is_not_reached_else_with_what_it_answered(tmp_path):
    """After Dial() to the trunk: no reachable contact (cause 3), no answer to the INVITE
    within 32 s (cause 18, pjsip's own 408), or a 409 or 504 behind it (41, 102: no response
    of their own in chan_pjsip, so 603) is 503; any other answer of the upstream is passed on
    (its cause, which chan_pjsip turns back into the same response for 480, 486, 404, 403, 503)."""
    phones = PHONES.replace("{name: a1, extension: 1001}", "{name: a1, extension: 1001, forward: {no_answer: '0301'}}")
    dialplan = render_asterisk(
        load_directory(make(tmp_path, trunk=TRUNK + "  dial_out: [a1]\n", phones=phones))
    ).conf_files["extensions.conf"]
    for context in ("televoc-dial-out", "televoc-forward-out"):
        lines = dialplan.split(f"[{context}]\n")[1].split("\n\n")[0] + "\n"
        assert " same => n,Dial(PJSIP/${EXTEN}@televoc-trunk)\n" + crossing_end("the upstream") in lines, lines
    dial_out = dialplan.split("[televoc-dial-out]\n")[1].split("\n\n")[0]
    assert " same => n,Hangup(21)  ; 403: this phone may not call out (trunk.dial_out)\n" in dial_out
    assert " same => n,Hangup(1)  ; 404: no such number\nexten => _X.,1,Hangup(1)\n" in dialplan
