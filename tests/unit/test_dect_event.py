"""DECT in the event directory: bases in dect.yml, handsets as phones with `base` (no host)."""

from __future__ import annotations

import pytest

from roles.event import load_directory, venue_directory
from roles.event.ipei import check_digit, ipui_hex, problem, standard
from tests.unit.eventdirs import assert_named, problems, write

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\nsecret_file: event.secret\n"
BASES = """\
bases:
  - name: dect-hall
    model: snomM700
    mac: "00:04:13:6a:00:01"
    location: Hall A, ceiling
  - name: dect-foyer
    model: snomM700
    mac: "00:04:13:6a:00:02"
    primary: dect-hall
  - name: dect-office
    model: snomM300
    mac: "00:04:13:6a:00:03"
"""
HANDSETS = """\
phones:
  - {name: saal1, extension: 1001}
  - {name: crew-anna, extension: 2001, base: dect-hall, slot: 1}
  - {name: crew-ben, extension: 2002, base: dect-hall, slot: 2, ipei: "02156 0123457 0"}
  - {name: office, extension: 2003, base: dect-office, slot: 1}
"""
GROUPS = "groups:\n  - {name: crew, number: 2000, members: [crew-anna, crew-ben, saal1]}\n"


def dect(tmp_path, phones: str = HANDSETS, bases: str | None = BASES, event: str = EVENT, groups: str | None = None):
    files = {"dect.yml": (bases, 0o644)} if bases is not None else {}
    return write(tmp_path, event, phones, groups, files)


def test_handsets_are_phones_with_a_base_routable_and_groupable(tmp_path):
    directory = load_directory(dect(tmp_path, groups=GROUPS))
    anna = next(a for a in directory.accounts if a.name == "crew-anna")
    assert (anna.base, anna.slot, anna.ipei, anna.mac, anna.provisioned) == ("dect-hall", 1, None, None, False)
    assert len(anna.password) == 24  # derived like any phone's
    assert [m.name for m in directory.groups[0].members] == ["crew-anna", "crew-ben", "saal1"]
    assert [a.name for a in directory.handsets("dect-hall")] == ["crew-anna", "crew-ben"]
    assert directory.handsets("dect-foyer") == ()  # a secondary holds no account


def test_bases_are_read_with_their_place_in_the_multicell_system(tmp_path):
    bases = {b.name: b for b in load_directory(dect(tmp_path)).bases}
    assert bases["dect-hall"].holds_accounts and not bases["dect-foyer"].holds_accounts
    assert bases["dect-foyer"].primary == "dect-hall" and bases["dect-hall"].mac == "0004136a0001"
    assert bases["dect-hall"].location == "Hall A, ceiling"
    passwords = {b.web_password for b in bases.values()}
    assert len(passwords) == 3 and all(len(p) == 24 for p in passwords)
    assert "web_password" not in repr(bases["dect-hall"])


def test_without_dect_yml_nothing_changes(tmp_path):
    directory = load_directory(dect(tmp_path, phones="phones:\n  - {name: saal1, extension: 1001}\n", bases=None))
    assert directory.bases == () and "bases" not in repr(directory)


def test_a_secondary_base_cannot_hold_handsets_and_names_the_primary(tmp_path):
    phones = HANDSETS.replace("base: dect-hall, slot: 1}", "base: dect-foyer, slot: 1}")
    [p] = problems(dect(tmp_path, phones))
    assert p == (
        f"{tmp_path}/phones.yml:3: phone 2 (crew-anna): base: 'dect-foyer' is a secondary of 'dect-hall' in a "
        "multicell system, and the primary holds every handset's account (the handset roams over all its "
        "bases): write base: dect-hall"
    )


def test_a_slot_beyond_the_models_lines_names_the_limit(tmp_path):
    phones = HANDSETS.replace("base: dect-office, slot: 1}", "base: dect-office, slot: 21}")
    assert_named(
        problems(dect(tmp_path, phones)),
        ["(office): slot: 21 is beyond the 20 lines of base 'dect-office' (a snomM300): choose a slot from 1 to 20"],
    )


def test_one_slot_holds_one_handset_and_a_missing_slot_gets_the_first_free_one(tmp_path):
    phones = HANDSETS + "  - {name: crew-cem, extension: 2004, base: dect-hall, slot: 2}\n"
    phones += "  - {name: crew-dan, extension: 2005, base: dect-hall}\n"
    assert_named(
        problems(dect(tmp_path, phones)),
        [
            "phone 5 (crew-cem): slot: 2 on base 'dect-hall' is already phone 3 (crew-ben)'s, line 4: give each",
            "phone 6 (crew-dan): base: a handset needs a slot, its account on the base (1 to 1000; the handset "
            "subscribes with it as access code): add slot: 3 (the first free one)",
        ],
    )


def test_an_ipei_is_used_once_and_checked_digit_by_digit(tmp_path):
    phones = HANDSETS + '  - {name: crew-cem, extension: 2004, base: dect-hall, slot: 3, ipei: "02156 0123457 0"}\n'
    phones += '  - {name: crew-dan, extension: 2005, base: dect-hall, slot: 4, ipei: "02156 0123457 1"}\n'
    phones += '  - {name: crew-eve, extension: 2006, base: dect-hall, slot: 5, ipei: "0086C1E241"}\n'
    assert_named(
        problems(dect(tmp_path, phones)),
        [
            "crew-cem): ipei: is already the IPEI of phone 3 (crew-ben), line 4: a handset takes one account",
            "crew-dan): ipei: '02156 0123457 1': its check digit is 1, but 02156 0123457 has the check digit 0",
            "crew-eve): ipei: '0086C1E241' looks like the hex IPUI a handset shows, but an IPEI is written in its "
            "standard form",
            "write '02156 0123457 0' if that is the one",
        ],
        exactly=False,
    )


def test_desk_phone_keys_on_a_handset_are_refused_each_saying_why(tmp_path):
    phones = HANDSETS.replace(
        "slot: 1}", "slot: 1, mac: '00:04:13:00:00:09', model: snom320, ringer: Silent, address: 10.23.0.9}", 1
    )
    assert_named(
        problems(dect(tmp_path, phones)),
        [
            "crew-anna): mac: a handset is provisioned through its base, which has the MAC (dect.yml): delete mac",
            "crew-anna): model: a handset is provisioned through its base",
            "crew-anna): ringer: a handset's ring tones are set on the handset",
            "crew-anna): address: a handset has no address of its own",
        ],
    )


def test_slot_or_ipei_without_a_base_is_refused(tmp_path):
    phones = HANDSETS + "  - {name: saal2, extension: 1002, slot: 3}\n"
    assert_named(
        problems(dect(tmp_path, phones)),
        ["saal2): slot: slot belongs to a DECT handset, and this phone has no base: add base"],
    )


def test_an_unknown_base_gets_the_closest_name_and_no_dect_yml_says_where(tmp_path):
    phones = HANDSETS.replace("base: dect-hall, slot: 1}", "base: dect-hal, slot: 1}")
    assert_named(
        problems(dect(tmp_path, phones)), ["base: 'dect-hal' is no base of dect.yml: did you mean 'dect-hall'?"]
    )
    alone = tmp_path / "without-dect-yml"
    alone.mkdir()
    assert_named(
        problems(dect(alone, bases=None)),
        ["is no base: the event has no dect.yml: declare the base there (docs/dect.md)"],
        exactly=False,
    )


@pytest.mark.parametrize(
    ("model", "text"),
    [
        ("snomM500", "'snomM500' is refused: the snom M500 is a dual-cell base of another firmware family"),
        ("M500", "'M500' is refused: the snom M500"),
        (
            "M700",
            "'M700' is no base televoc knows: a base's model is one of snomM300, snomM400, snomM700, "
            "snomM900: write 'snomM700'",
        ),
        ("gigasetN870", "'gigasetN870' is no base televoc knows"),
    ],
)
def test_a_model_is_taken_as_written_or_refused_saying_why(tmp_path, model, text):
    bases = BASES.replace("model: snomM300", f"model: {model}")
    [p] = problems(dect(tmp_path, HANDSETS.replace("base: dect-office, slot: 1", "base: dect-hall, slot: 3"), bases))
    assert p.startswith(f"{tmp_path}/dect.yml:11: base 3 (dect-office): model: ") and text in p


def test_multicell_rules_name_the_base_and_the_fix(tmp_path):
    bases = (
        BASES
        + """\
  - {name: dect-b, model: snomM900, mac: "00:04:13:6a:00:04", primary: dect-hall}
  - {name: dect-c, model: snomM700, mac: "00:04:13:6a:00:05", primary: dect-foyer}
  - {name: dect-d, model: snomM300, mac: "00:04:13:6a:00:06", primary: dect-hall}
  - {name: dect-e, model: snomM700, mac: "00:04:13:6a:00:07", primary: dect-e}
  - {name: dect-f, model: snomM700, mac: "00:04:13:6a:00:03", primary: dect-office}
"""
    )
    assert_named(
        problems(dect(tmp_path, bases=bases)),
        [
            "base 4 (dect-b): primary: 'dect-hall' is a snomM700, this base a snomM900: televoc joins bases of "
            "one model only",
            "base 5 (dect-c): primary: 'dect-foyer' is itself a secondary of 'dect-hall' (",
            "write primary: dect-hall",
            "base 6 (dect-d): primary: a snomM300 is a single cell and joins no multicell system",
            "base 7 (dect-e): primary: a base is not its own primary",
            "base 8 (dect-f): mac: is already the MAC of base 3 (dect-office), line 12",
        ],
        exactly=False,
    )


def test_a_base_shares_no_mac_with_a_phone_and_unknown_keys_are_refused(tmp_path):
    phones = HANDSETS + "  - {name: saal2, extension: 1002, mac: '00:04:13:6a:00:01', model: snom320}\n"
    phones += "  - {name: dect-hall, extension: 1003}\n"
    bases = BASES.replace("    location: Hall A, ceiling\n", "    colour: red\n")
    assert_named(
        problems(dect(tmp_path, phones, bases)),
        [
            "dect.yml:2: base 1 (dect-hall): name: 'dect-hall' is also the name of phone 6 (dect-hall) (phones.yml "
            "line 7): re-arming and the teardown report name both by it",
            "dect.yml:4: base 1 (dect-hall): mac: is also the MAC of phone 5 (saal2) (phones.yml line 6): a MAC is "
            "one device",
            "dect.yml:5: base 1 (dect-hall): colour: unknown key: the keys here are name, model, mac, location, primary",
        ],
    )


def test_bases_need_pbx_address_and_the_secret(tmp_path):
    phones = 'phones:\n  - {name: saal1, extension: 1001, password: "Tk7-wQ3v-Lm9z-Rb2x"}\n'
    event = EVENT.replace("pbx_address: 10.23.0.2\n", "")
    directory = dect(tmp_path, phones, event=event)
    (directory / "event.secret").unlink()
    assert_named(
        problems(directory),
        [
            "event.yml: pbx_address: dect.yml declares base 1 (dect-hall), so pbx_address is required, the address "
            "the DECT bases reach the PBX at",
            "the event secret is missing, but base 1 (dect-hall) of dect.yml is provisioned",
        ],
    )


def test_a_venue_serves_the_bases_of_its_handsets_and_one_base_one_venue(tmp_path):
    event = (
        EVENT + "venues:\n  north: {numbers: '1', address: 10.80.0.1}\n  south: {numbers: '2', address: 10.80.0.2}\n"
    )
    directory = load_directory(dect(tmp_path, event=event))
    assert [b.name for b in venue_directory(directory, "south").bases] == ["dect-hall", "dect-foyer", "dect-office"]
    assert venue_directory(directory, "north").bases == ()
    phones = HANDSETS.replace("extension: 2002, base", "extension: 1002, base")
    assert_named(
        problems(dect(tmp_path, phones, event=event)),
        [
            "crew-ben): extension: '1002' is of venue north, but base 'dect-hall' serves phone 2 (crew-anna) of venue south"
        ],
    )


def test_ipei_check_digit_and_ipui_follow_etsi():
    assert check_digit("021560123457") == "0" and standard(0x86C, 0x1E240) == "02156 0123456 *"
    assert ipui_hex("02156 0123457 0") == "0086C1E241"
    assert problem("02156 0123457 0") is None and problem("02156 0123456 *") is None
    assert "manufacturer code is above 65535" in (problem("70000 0000001 1") or "")
    assert "does not fit" in (problem("0215601234570") or "")
