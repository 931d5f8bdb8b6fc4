"""Self-service declared in event.yml (`self_service:`): taken as written or refused, every
problem at once naming the file, the line, the entry, the field and the fix; the arithmetic of
number ranges checked against counting every number. No host."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from roles.event import load_directory
from roles.event.model import NumberRange
from roles.event.selfservice import Claim, blocks, meets_prefix, uncovered

from .eventdirs import assert_named, write
from .eventdirs import problems as load_problems

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
SELF_SERVICE = """\
self_service:
  claimable: {first: 2000, last: 8999}
  temporary: {first: 9000, last: 9999}
  info_desk: infodesk
"""
PHONES = "phones:\n  - {name: a1, extension: 1001}\n  - {name: a2, extension: 1002}\n"
GROUPS = "groups:\n  - {name: infodesk, number: 1100, members: [a1, a2]}\n"


def make(tmp_path: Path, self_service: str = SELF_SERVICE, phones: str = PHONES, event: str = EVENT) -> Path:
    return write(tmp_path, event + self_service, phones, GROUPS)


def problems(tmp_path: Path, **kwargs) -> list[str]:
    return load_problems(make(tmp_path, **kwargs))


def test_a_self_service_block_is_taken_with_its_defaults(tmp_path):
    s = load_directory(make(tmp_path)).event.self_service
    assert s is not None and s.enabled
    assert (s.claimable.first, s.claimable.last, str(s.temporary)) == ("2000", "8999", "9000-9999")
    assert s.claim_code == "*23" and s.token_digits == 6 and s.token_minutes == 30
    assert s.claim_days is None and s.in_directory is False and s.temporary_may_call == ()
    assert s.info_desk == "infodesk" and s.venue is None


def test_the_page_cannot_take_the_provisioning_servers_port(tmp_path):
    assert load_directory(make(tmp_path)).event.self_service.page_port == 8080
    found = problems(tmp_path, self_service=SELF_SERVICE + "  page_port: 8088\n")
    assert any(
        "self_service: page_port: 8088 is the provisioning server's port (provisioning.http_port)" in p for p in found
    ), found


def test_without_the_block_self_service_is_off(tmp_path):
    assert load_directory(make(tmp_path, self_service="")).event.self_service is None


def test_every_problem_is_named_at_once_with_both_places(tmp_path):
    found = problems(
        tmp_path,
        self_service="""\
test_numbers:
  hello_world: 9100
self_service:
  claimable: {first: 2000, last: 9500}
  temporary: {first: 9000, last: 9999}
  claim_code: "10"
  info_desk: infodek
  temporary_may_call: [a1, nobody]
""",
        phones="phones:\n  - {name: a1, extension: 1001}\n  - {name: a2, extension: 2002}\n",
    )
    assert_named(
        found,
        [
            # a crew phone inside the claimable range: the phone's line and the range's line
            "phones.yml:3: phone 2 (a2): extension: '2002' is inside the claimable range 2000-9500 "
            "(self_service.claimable, event.yml line 7), which participants claim: choose a number outside it",
            # a test number inside both: named once, with the first range it is in
            "event.yml:5: test_numbers: hello_world: the hello_world test number '9100' is inside the claimable "
            "range 2000-9500",
            "event.yml:8: self_service: temporary: 9000-9999 shares 9000-9500 with the claimable range 2000-9500 "
            "(self_service.claimable, event.yml line 7): a number is either claimed or temporary",
            "event.yml:9: self_service: claim_code: '10' and the extension of phone 1 (a1) (",
            "phones.yml line 2) and 1 more begin one another: choose another claim_code",
            "event.yml:10: self_service: info_desk: 'infodek' is no phone or group of the event: write the name "
            "of the info desk participants call for help",
            "event.yml:11: self_service: temporary_may_call 2: 'nobody' is no phone or group of the event",
        ],
        exactly=False,
    )
    assert len(found) == 6, "\n".join(found)


def test_a_range_of_two_lengths_or_upside_down_is_refused(tmp_path):
    found = problems(
        tmp_path,
        self_service=SELF_SERVICE.replace("last: 8999", "last: 12000").replace(
            "{first: 9000, last: 9999}", "{first: 9999, last: 9000}"
        ),
    )
    assert_named(
        found,
        [
            "event.yml:5: self_service.claimable: last: '12000' has 5 digits and first '2000' 4, but a range "
            "holds numbers of one length (the 4-digit numbers from 2000 end at 9999): write last with 4 digits, "
            "or first with 5",
            "event.yml:6: self_service.temporary: last: '9000' is below first '9999', so the range is empty: swap them",
        ],
    )


def test_a_group_and_the_pickup_code_inside_a_range_are_refused(tmp_path):
    d = make(tmp_path, event=EVENT + "pickup_code: '9123'\n")
    (d / "groups.yml").write_text("groups:\n  - {name: infodesk, number: 9500, members: [a1]}\n")
    assert_named(
        load_problems(d),
        [
            "groups.yml:2: group 1 (infodesk): number: '9500' is inside the temporary range 9000-9999 "
            "(self_service.temporary, event.yml line 7), given to phones televoc does not know",
            "event.yml:4: pickup_code: '9123' is inside the temporary range 9000-9999",
        ],
    )


def test_the_claim_code_meets_no_range_no_pickup_code_and_no_dial_out_prefix(tmp_path):
    trunk = (
        "trunk:\n  registrar: 10.77.0.2\n  username: '6000'\n  block: 6000\n  dial_out_prefix: '9'\n"
        "  secret_file: trunk.secret\n"
    )
    d = write(
        tmp_path,
        EVENT + trunk + SELF_SERVICE + '  claim_code: "89"\n',
        PHONES,
        GROUPS,
        {"trunk.secret": ("trunk-pw-Qx7-Lm2\n", 0o600)},
    )
    assert_named(
        load_problems(d),
        [
            "self_service: claim_code: '89' and 8900 of the claimable range 2000-8999 (self_service.claimable, "
            "event.yml line 11) begin one another",
            "self_service: temporary: 9000-9999 holds 9000, which begins with the dial-out prefix '9' "
            "(trunk.dial_out_prefix): a phone dialling it would call out",
        ],
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  claimable: {first: 0100, last: 0999}\n", "YAML 1.1 reads 0100 as the number 64"),
        ("  enabled: yes\n", "write it in quotes"),
        ("  claim_code: *23\n", "a value that begins with '*' is a YAML alias: write it in quotes, \"*23\""),
        ("  claim_code: '*2a'\n", "a claim code is what a participant dials before the token"),
        ("  token_digits: 4\n", "4 is out of range: token_digits (token_digits is the number of digits (6 to 12)"),
        ("  in_drectory: true\n", "in_drectory: unknown key: did you mean 'in_directory'?"),
    ],
)
def test_a_value_is_taken_as_written_or_refused(tmp_path, line, expected):
    block = (
        SELF_SERVICE.replace("  claimable: {first: 2000, last: 8999}\n", "") if "claimable" in line else SELF_SERVICE
    )
    found = problems(tmp_path, self_service=block + line)
    assert_named(found, [expected])


def test_turned_off_it_still_keeps_its_ranges_from_the_crew(tmp_path):
    found = problems(
        tmp_path,
        self_service=SELF_SERVICE + "  enabled: false\n",
        phones="phones:\n  - {name: a1, extension: 1001}\n  - {name: a2, extension: 9002}\n",
    )
    assert_named(found, ["phone 2 (a2): extension: '9002' is inside the temporary range 9000-9999"])


def test_with_venues_one_venue_serves_it_and_holds_both_ranges(tmp_path):
    venues = "venues:\n  v1: {numbers: ['1', '2'], address: 10.80.0.1}\n  v2: {numbers: '3', address: 10.80.0.2}\n"
    assert_named(
        problems(tmp_path, event=EVENT + venues),
        [
            "event.yml:8: self_service: venue is missing: with venues, name the venue whose PBX serves self-service (v1, v2)"
        ],
    )
    found = problems(
        tmp_path,
        event=EVENT + venues,
        self_service=SELF_SERVICE.replace("8999", "2999").replace("9000", "3000").replace("9999", "3999")
        + "  venue: v1\n",
    )
    assert_named(
        found,
        [
            "self_service: temporary: 3000-3999 holds 3000, which is not among the numbers of venue v1 (1 2), "
            "whose PBX serves self-service"
        ],
    )
    s = SELF_SERVICE.replace("8999", "2999").replace("{first: 9000, last: 9999}", "{first: 1500, last: 1999}")
    assert load_directory(make(tmp_path, event=EVENT + venues, self_service=s + "  venue: v1\n")).event.self_service


def test_a_venue_without_venues_is_refused(tmp_path):
    assert_named(
        problems(tmp_path, self_service=SELF_SERVICE + "  venue: v1\n"),
        ["self_service: venue: 'v1' names a venue, but event.yml has no venues: delete the line, or declare venues"],
    )


def test_a_crew_number_a_participant_claimed_is_refused_naming_the_claim(tmp_path):
    d = make(tmp_path, self_service="")
    claims = [Claim("1002", "Alice", "2026-12-27T14:02:00Z"), Claim("1100"), Claim("4711", "Bob")]
    with pytest.raises(Exception) as info:
        load_directory(d, claims=claims)
    assert_named(
        info.value.problems,
        [
            "phones.yml:3: phone 2 (a2): extension: '1002' is claimed by a participant as 'Alice' since "
            "2026-12-27T14:02:00Z: choose another number, or have the participant release the claim first",
            "groups.yml:2: group 1 (infodesk): number: '1100' is claimed by a participant: choose another number",
        ],
    )
    assert load_directory(d, claims=[Claim("4711")]).event.name == "test-event"


# --- the arithmetic of ranges, against counting every number --------------------------------


def _numbers(length: int) -> list[str]:
    return [f"{n:0{length}d}" for n in range(10**length)]


def _ranges(count: int, length: int, seed: int) -> list[NumberRange]:
    rng = random.Random(seed)
    single = "1" * length
    out = [NumberRange(first="0" * length, last="9" * length), NumberRange(first=single, last=single)]
    for _ in range(count):
        a, b = sorted(rng.randrange(10**length) for _ in range(2))
        out.append(NumberRange(first=f"{a:0{length}d}", last=f"{b:0{length}d}"))
    return out


@pytest.mark.parametrize("length", [2, 3, 4])
def test_blocks_are_exactly_the_range_in_order_and_few(length):
    every = _numbers(length)
    for r in _ranges(60, length, seed=length):
        bs = blocks(r)
        covered = [n for n in every if any(n.startswith(b) for b in bs)]
        assert covered == [n for n in every if n in r], str(r)
        assert sum(10 ** (length - len(b)) for b in bs) == r.size, f"{r}: blocks overlap: {bs}"
        assert bs == sorted(bs) and len(bs) <= 18 * length
    assert blocks(NumberRange(first="2000", last="8999")) == ["2", "3", "4", "5", "6", "7", "8"]
    assert blocks(NumberRange(first="1995", last="2009")) == ["1995", "1996", "1997", "1998", "1999", "200"]


@pytest.mark.parametrize("prefix", ["1", "12", "123", "1234", "9", "00", "*1", "5"])
def test_a_prefix_meets_a_range_when_some_number_begins_with_it_or_it_with_a_number(prefix):
    for r in _ranges(40, 3, seed=7):
        hit = meets_prefix(r, prefix)
        meeting = [n for n in _numbers(3) if n in r and (n.startswith(prefix) or prefix.startswith(n))]
        assert (hit is None) == (not meeting), f"{r} {prefix}: {hit} vs {meeting[:3]}"
        assert hit is None or hit in meeting


@pytest.mark.parametrize("prefixes", [["1"], ["12", "3"], ["0", "15", "199"], ["2"], ["123"]])
def test_uncovered_finds_a_number_of_the_range_in_no_prefix(prefixes):
    for r in _ranges(40, 3, seed=11):
        hit = uncovered(r, prefixes)
        missing = [n for n in _numbers(3) if n in r and not any(n.startswith(p) for p in prefixes)]
        assert (hit is None) == (not missing), f"{r} {prefixes}"
        assert hit is None or hit in missing


def test_a_crew_phone_named_like_a_claimable_number_is_refused(tmp_path):
    found = problems(tmp_path, phones="phones:\n  - {name: '2345', extension: 1001}\n  - {name: a2, extension: 1002}\n")
    assert any(
        "'2345' is inside the claimable range 2000-8999" in p and "a phone's name is its SIP account" in p
        for p in found
    ), found
