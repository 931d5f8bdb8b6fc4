"""What a temporary number may dial (self-service), rendered into the flat dialplan: the claim
code with a token, the info desk, the test numbers and `temporary_may_call`; anything else
refused with 403; every jump leads out of the context, never back. No host."""

from __future__ import annotations

import re
from pathlib import Path

from roles.asterisk.render import render_asterisk
from roles.event import load_directory, venue_directory
from roles.event.selfservice import temporary_calls

from .eventdirs import write

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
SELF_SERVICE = """\
self_service:
  claimable: {first: 2000, last: 8999}
  temporary: {first: 9000, last: 9999}
  info_desk: infodesk
"""
PHONES = (
    "phones:\n  - {name: a1, extension: 1001}\n  - {name: a2, extension: 1002}\n  - {name: sani, extension: 1112}\n"
)
GROUPS = "groups:\n  - {name: infodesk, number: 1100, members: [a1, a2]}\n"


def dialplan(tmp_path: Path, self_service: str = SELF_SERVICE, event: str = EVENT, venue: str | None = None) -> str:
    directory = load_directory(write(tmp_path, event + self_service, PHONES, GROUPS))
    if venue is not None:
        directory = venue_directory(directory, venue)
    return render_asterisk(directory).conf_files["extensions.conf"]


def contexts(text: str) -> dict[str, list[str]]:
    """Each context of extensions.conf -> its lines (comments and blank lines left out)."""
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        code = line.split(";", 1)[0].rstrip()
        if code.startswith("[") and code.endswith("]"):
            current = found.setdefault(code[1:-1], [])
        elif code and current is not None:
            current.append(code)
    return found


def test_a_temporary_number_may_dial_the_claim_code_the_info_desk_and_the_test_numbers_only(tmp_path):
    temporary = contexts(dialplan(tmp_path))["televoc-temporary"]
    # the claim code and a token: no call log row (it would hold the token), then the claim
    assert temporary[:2] == [
        "exten => _*23XXXXXX,1,Set(CDR_PROP(disable)=1)",
        " same => n,Goto(televoc-claim,${EXTEN:3},1)",
    ]
    firsts = [line.split(",")[0].removeprefix("exten => ") for line in temporary if line.startswith("exten")]
    assert firsts == ["_*23XXXXXX", "1100", "100", "101", "_[0-9*#]."]
    assert temporary[-1] == "exten => _[0-9*#].,1,Hangup(21)"  # 403: anything else
    assert "exten => 1100,1,Set(__TV_FROM=${CALLERID(num)})" in temporary
    assert temporary[temporary.index("exten => 1100,1,Set(__TV_FROM=${CALLERID(num)})") + 2] == (
        " same => n,Goto(televoc-numbers,${EXTEN},1)"
    )


def test_temporary_may_call_adds_numbers_once_and_the_claim_code_takes_its_token_length(tmp_path):
    s = SELF_SERVICE + "  temporary_may_call: [sani, INFODESK]\n  claim_code: '05'\n  token_digits: 8\n"
    temporary = contexts(dialplan(tmp_path, s))["televoc-temporary"]
    firsts = [line.split(",")[0].removeprefix("exten => ") for line in temporary if line.startswith("exten")]
    assert firsts == ["_05XXXXXXXX", "1100", "100", "101", "1112", "_[0-9*#]."]
    assert temporary[1] == " same => n,Goto(televoc-claim,${EXTEN:2},1)"


def test_no_call_can_come_back_into_the_temporary_context(tmp_path):
    s = SELF_SERVICE + "  temporary_may_call: [sani]\n"
    found = contexts(dialplan(tmp_path, s))
    jumps = re.compile(r"Goto(?:If)?\([^)]*?([A-Za-z0-9-]+),")
    for name, lines in found.items():
        for line in lines:
            assert "televoc-temporary" not in line, f"{name}: {line}"  # nothing jumps in (phones start here)
    targets = {m.group(1) for line in found["televoc-temporary"] for m in jumps.finditer(line)}
    assert targets == {"televoc-claim", "televoc-numbers"}
    # the claim context ends every call, and jumps nowhere
    claim = found["televoc-claim"]
    assert (
        claim[0]
        == "exten => _X.,1,AGI(/etc/televoc/bin/televoc-claim-agi,${CHANNEL(endpoint)},${CHANNEL(pjsip,remote_addr)})"
    )
    assert claim[-1] == " same => n,Hangup()" and " same => n,Hangup(21)" in claim
    assert not any("Goto(" in line and "GotoIf" not in line for line in claim)


def test_without_self_service_or_turned_off_nothing_is_rendered(tmp_path):
    for s in ("", SELF_SERVICE + "  enabled: false\n"):
        text = dialplan(tmp_path, s)
        assert "televoc-temporary" not in text and "televoc-claim" not in text


def test_with_venues_only_the_venue_that_serves_it_renders_it_and_may_call_the_others(tmp_path):
    venues = "venues:\n  v1: {numbers: ['1', '2', '9'], address: 10.80.0.1}\n  v2: {numbers: '3', address: 10.80.0.2}\n"
    phones = PHONES.replace("1112", "3112")
    directory = load_directory(
        write(
            tmp_path,
            EVENT + venues + SELF_SERVICE.replace("8999", "2999") + "  venue: v1\n  temporary_may_call: [sani]\n",
            phones,
            GROUPS,
        )
    )
    assert temporary_calls(venue_directory(directory, "v2")) is None
    calls = temporary_calls(venue_directory(directory, "v1"))
    assert calls is not None and ("3112", "sani") in calls.numbers  # over the peering to v2
    text = render_asterisk(venue_directory(directory, "v1")).conf_files["extensions.conf"]
    assert "exten => 3112,1,Set(__TV_FROM=${CALLERID(num)})" in contexts(text)["televoc-temporary"]
