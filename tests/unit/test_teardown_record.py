"""Teardown's record: which phones still hold the event's credentials, and what proves one clean."""

import pytest

from roles.event import Account, Directory, Event
from roles.shared.pbxcli import Contact, PbxState
from roles.snom.teardown import (
    Outcome,
    PhoneRecord,
    TeardownRecord,
    contact_host,
    fetched_wipe,
    judged,
    merged,
    report,
)

WIPED = "0123456789abcdef"


def directory(*accounts):
    return Directory(event=Event(name="e", network="10.23.0.0/24"), accounts=accounts)


def phone(name, mac=None, address=None):
    return Account(
        name=name,
        extension="1001",
        display_name=name,
        password="x" * 24,
        mac=mac,
        model="snom320" if mac else None,
        address=address,
    )


def registered(*pairs):
    contacts = tuple(Contact(name, f"sip:{name}@{ip}:5060;ob", "Avail", 1.0) for name, ip in pairs)
    return PbxState(running=True, aors=frozenset(n for n, _ in pairs), contacts=contacts)


def test_the_first_run_records_every_phone_as_holding_credentials_with_its_registered_address():
    d = directory(phone("hall1", "000413a00001"), phone("lobby"))
    record = merged(None, d, registered(("hall1", "10.23.0.11")), now="T0")
    assert record.started == "T0" and record.pending == ["hall1", "lobby"]
    assert record.phones["hall1"] == PhoneRecord(mac="000413a00001", address="10.23.0.11", registered=True)
    assert record.phones["lobby"].address is None and not record.phones["lobby"].registered


def test_the_directory_address_wins_over_the_registration():
    d = directory(phone("hall1", "000413a00001", address="10.23.0.99"))
    assert merged(None, d, registered(("hall1", "10.23.0.11")), "T0").phones["hall1"].address == "10.23.0.99"


def test_a_later_run_keeps_the_recorded_address_when_the_phone_is_no_longer_registered():
    d = directory(phone("hall1", "000413a00001"))
    first = merged(None, d, registered(("hall1", "10.23.0.11")), "T0")
    again = merged(
        TeardownRecord.from_json(__import__("json").loads(first.to_json())), d, PbxState(running=False), "T1"
    )
    assert again.phones["hall1"].address == "10.23.0.11" and not again.phones["hall1"].registered
    assert again.started == "T0"


def test_a_phone_proven_clean_stays_clean_and_a_phone_gone_from_the_directory_stays_pending():
    record = TeardownRecord("T0", {"hall1": PhoneRecord("m1", clean_since="T0", proof="p"), "old": PhoneRecord("m2")})
    again = merged(record, directory(phone("hall1", "m1")), registered(), "T1")
    assert again.pending == ["old"] and again.phones["hall1"].proof == "p"


def test_only_a_fetch_of_the_wiped_version_proves_a_phone_clean():
    record = TeardownRecord(
        "T0", {"a": PhoneRecord("000413a00001"), "b": PhoneRecord("000413a00002"), "c": PhoneRecord(None)}
    )
    fetches = {
        "000413A00001": {"version": WIPED, "source": "10.23.0.11"},
        "000413A00002": {"version": "another", "source": "10.23.0.12"},
    }
    wiped = {"000413A00001": WIPED, "000413A00002": WIPED}
    assert fetched_wipe(record, fetches, wiped) == {"a": "fetched the wiped profile from 10.23.0.11"}


def test_judging_writes_proofs_with_the_time_and_keeps_the_rest_pending():
    record = TeardownRecord("T0", {n: PhoneRecord(f"m{n}") for n in ("a", "b", "c", "d")})
    outcome = Outcome(
        fetched={"a": "fetched"},
        reset={"b": "answered the factory reset at 10.23.0.12"},
        attempts={"d": "factory reset at 10.23.0.14: no answer"},
        by_hand=("c",),
    )
    judged(record, outcome, "T1")
    assert [(n, p.clean_since) for n, p in record.phones.items()] == [
        ("a", "T1"),
        ("b", "T1"),
        ("c", "T1"),
        ("d", None),
    ]
    assert record.phones["c"].proof.startswith("reset by hand")
    assert record.pending == ["d"] and record.phones["d"].last_attempt == "T1: factory reset at 10.23.0.14: no answer"


def test_the_report_says_what_to_do_for_each_phone_still_holding_credentials():
    record = TeardownRecord(
        "T0",
        {
            "hall1": PhoneRecord("m1", address="10.23.0.11"),
            "lobby": PhoneRecord(None),
            "desk": PhoneRecord("m3", clean_since="T1", proof="fetched"),
        },
    )
    lines = report(record)
    assert lines[0] == "desk: clean since T1: fetched"
    assert "hall1: STILL HOLDS" in lines[1] and "televoc_factory_reset=true (reaches it at 10.23.0.11)" in lines[1]
    assert "lobby: STILL HOLDS the event's credentials (set up by hand)" in lines[2]
    assert "televoc_factory_reset" not in lines[2] and "televoc_reset_by_hand" in lines[2]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"version": 2, "phones": {}},
        {"version": 1, "phones": []},
        {"version": 1, "phones": {"a": {"mac": None, "bogus": 1}}},
    ],
)
def test_a_record_televoc_did_not_write_is_refused_not_guessed_at(data):
    with pytest.raises(ValueError):
        TeardownRecord.from_json(data)


@pytest.mark.parametrize(
    "uri,host",
    [
        ("sip:a@10.23.0.11:5060;ob", "10.23.0.11"),
        ("sip:a@10.23.0.11", "10.23.0.11"),
        ("sip:a@[fd00::5]:5060", "fd00::5"),
        ("sip:pbx.example.org", "pbx.example.org"),
    ],
)
def test_the_host_of_a_contact(uri, host):
    assert contact_host(uri) == host


def test_participants_snoms_are_recorded_by_their_number_and_proven_clean_by_their_wipe():
    d = directory(phone("hall1", "000413a00001"))
    participants = (("2345", "000413c0ffee"), ("9000", "000413C0FFEF"))
    record = merged(None, d, registered(("2345", "10.23.0.21")), "T0", participants)
    assert record.pending == ["hall1", "2345", "9000"]
    alice = record.phones["2345"]
    assert (alice.mac, alice.participant, alice.registered, alice.address) == ("000413C0FFEE", True, True, "10.23.0.21")
    found = fetched_wipe(record, {"000413C0FFEE": {"version": WIPED, "source": "10.23.0.21"}}, {"000413C0FFEE": WIPED})
    assert found == {"2345": "fetched the wiped profile from 10.23.0.21"}
    lines = report(judged(record, Outcome(fetched=found), "T1"))
    assert "2345: clean since T1: fetched the wiped profile from 10.23.0.21" in lines
    assert any(line.startswith("9000: STILL HOLDS the event's credentials (a participant's snom)") for line in lines)
    # a later run (the database is gone: no participants given) keeps them as they were
    again = merged(record, d, registered(), "T2")
    assert again.phones["9000"].participant and not again.phones["9000"].clean


def test_a_participant_known_to_the_registrar_alone_counts_as_registered():
    from roles.shared.pbxcli import Registration

    state = PbxState(running=True, registrations=(Registration("9000", "abc", "sip:9000@10.23.0.22:5062", "snom"),))
    record = merged(None, directory(), state, "T0", (("9000", "000413C0FFEF"),))
    assert record.phones["9000"].registered and record.phones["9000"].address == "10.23.0.22"
