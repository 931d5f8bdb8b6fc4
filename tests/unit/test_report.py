"""Every pass/fail decision on Asterisk's state: is the config live, is a phone ready."""

import pytest

from roles.asterisk.report import (
    NO_AOR,
    NOT_READY,
    NOT_REGISTERED,
    LiveConfig,
    config_mismatches,
    registration_problems,
    registration_table,
)
from roles.event import Account
from roles.shared.names import DIALPLAN_GLOBAL, GENERATION_AOR_PREFIX, TRANSPORT
from roles.shared.pbxcli import Contact, PbxState

EXPECTED = LiveConfig("gen1", "dial1", frozenset({"saal1", "saal2"}), "0.0.0.0:5060")


def serving(generation="gen1", dialplan="dial1", phones=("saal1", "saal2"), bind="0.0.0.0:5060", contacts=()):
    return PbxState(
        running=True,
        version="22.10.1",
        aors=frozenset({*phones, GENERATION_AOR_PREFIX + generation}),
        contacts=tuple(contacts),
        globals={DIALPLAN_GLOBAL: dialplan},
        transports={TRANSPORT: bind},
    )


def phone(name, extension="1001"):
    return Account(name=name, extension=extension, display_name=name, password="x" * 24)


def test_a_config_is_live_when_generations_aors_and_bind_all_match():
    assert config_mismatches(serving(), EXPECTED) == []


def test_a_stopped_asterisk_serves_nothing():
    assert config_mismatches(PbxState(running=False), EXPECTED) == ["Asterisk is not running"]


def test_an_old_pjsip_generation_is_not_live():
    [reason] = config_mismatches(serving(generation="gen0"), EXPECTED)
    assert reason == "pjsip config: Asterisk serves generation gen0, not gen1"


def test_two_generation_markers_count_as_none():
    state = serving()
    state = PbxState(**{**state.__dict__, "aors": state.aors | {GENERATION_AOR_PREFIX + "other"}})
    assert config_mismatches(state, EXPECTED) == ["pjsip config: Asterisk serves generation none, not gen1"]


def test_an_old_dialplan_is_not_live():
    assert config_mismatches(serving(dialplan="dial0"), EXPECTED) == ["dialplan: Asterisk serves dial0, not dial1"]


def test_an_asterisk_that_does_not_read_pjsips_own_files_is_not_live():
    """Asterisk applies sorcery.conf only when it starts: one that started with another does
    not read televoc's files (`config list`), and a reload cannot change that."""
    expected = LiveConfig("gen1", "dial1", frozenset({"saal1", "saal2"}), "0.0.0.0:5060", reads=("a.conf", "b.conf"))
    state = PbxState(**{**serving().__dict__, "config_files": frozenset({"pjsip.conf", "b.conf"})})
    assert expected.unread(state) == ["a.conf"]
    assert config_mismatches(state, expected) == [
        "Asterisk does not read a.conf: it started with another sorcery.conf (it applies that file only when it starts)"
    ]
    reading = PbxState(**{**state.__dict__, "config_files": frozenset({"a.conf", "b.conf"})})
    assert config_mismatches(reading, expected) == [] and EXPECTED.unread(state) == []


def test_a_missing_aor_is_named():
    assert config_mismatches(serving(phones=("saal1",)), EXPECTED) == ["aors missing in Asterisk: saal2"]


def test_an_extra_aor_is_named():
    reasons = config_mismatches(serving(phones=("saal1", "saal2", "old")), EXPECTED)
    assert reasons == ["aors Asterisk has that the directory does not: old"]


def test_a_transport_on_another_port_is_not_live():
    reasons = config_mismatches(serving(bind="0.0.0.0:5070"), EXPECTED)
    assert reasons == ["SIP transport bound to 0.0.0.0:5070, not 0.0.0.0:5060"]


def test_every_mismatch_is_listed_at_once():
    assert len(config_mismatches(serving("g", "d", ("x",), "1.2.3.4:1"), EXPECTED)) == 5


def contact(aor, status, rtt=1.0):
    return Contact(aor, f"sip:{aor}@10.0.0.1:5060", status, rtt)


def test_a_phone_with_an_answering_contact_is_ready():
    state = serving(contacts=[contact("saal1", "Avail"), contact("saal2", "Avail")])
    assert registration_problems(state, [phone("saal1"), phone("saal2")]) == []


def test_a_phone_without_an_aor_is_not_ready():
    assert registration_problems(serving(), [phone("nobody")]) == [("nobody", NO_AOR)]


def test_a_phone_without_a_contact_is_not_registered():
    assert registration_problems(serving(), [phone("saal1")]) == [("saal1", NOT_REGISTERED)]


def test_a_contact_that_does_not_answer_qualify_is_not_ready():
    state = serving(contacts=[contact("saal1", "Unavail", None)])
    assert registration_problems(state, [phone("saal1")]) == [("saal1", NOT_READY["Unavail"])]


@pytest.mark.parametrize("status", ["Unknown", "NonQual", "Created"])
def test_a_contact_not_qualified_yet_does_not_count_as_ready(status):
    state = serving(contacts=[contact("saal1", status, None)])
    [(name, reason)] = registration_problems(state, [phone("saal1")])
    assert name == "saal1" and reason.startswith("registered, ") and "qualif" in reason


def test_one_answering_contact_of_several_is_enough():
    state = serving(contacts=[contact("saal1", "Unavail", None), contact("saal1", "Avail")])
    assert registration_problems(state, [phone("saal1")]) == []


def test_the_summary_counts_by_state_and_groups_the_phones_not_ready_by_reason():
    from roles.asterisk.report import summary

    phones = [phone(f"p{i:04d}") for i in range(500)]
    contacts = [contact(p.name, "Avail") for p in phones[:400]] + [
        contact(p.name, "Unavail", None) for p in phones[400:450]
    ]
    state = serving(phones=[p.name for p in phones], contacts=contacts)
    lines = summary(state, phones, registration_problems(state, phones), more=" (all: report.csv)")
    assert lines[0] == "400 of 500 phones ready (Avail 400, MISSING 50, Unavail 50)"
    assert lines[1].startswith("  registered but not answering qualify (OPTIONS) (50): p0400, p0401,")
    assert any("not registered (50)" in line for line in lines)
    assert all(len(line) <= 100 for line in lines)
    assert len(lines) < 20


def test_a_long_list_is_cut_with_a_pointer_to_the_whole():
    from roles.asterisk.report import wrapped

    lines = wrapped("not registered (1000)", [f"phone{i}" for i in range(1000)], limit=60, more=" (all: x.csv)")
    assert lines[-1].endswith("... and 940 more (all: x.csv)")
    assert all(len(line) <= 100 for line in lines)


def test_the_csv_has_every_phone():
    import csv
    import io

    from roles.asterisk.report import table_csv

    state = serving(contacts=[contact("saal1", "Avail", 0.25)])
    rows = list(csv.reader(io.StringIO(table_csv(state, [phone("saal1"), phone("saal2", "1002")]))))
    assert rows == [
        ["phone", "extension", "contact", "status", "rtt_ms", "user_agent"],
        ["saal1", "1001", "sip:saal1@10.0.0.1:5060", "Avail", "0.2", ""],
        ["saal2", "1002", "", "MISSING", "", ""],
    ]


def test_problems_come_in_directory_order():
    phones = [phone("saal2"), phone("saal1")]
    assert [name for name, _ in registration_problems(serving(), phones)] == ["saal2", "saal1"]


def test_the_table_marks_a_missing_phone_and_shows_rtt():
    state = serving(contacts=[contact("saal1", "Avail", 0.25)])
    table = registration_table(state, [phone("saal1", "1001"), phone("saal2", "1002")]).splitlines()
    assert table[0].split() == ["phone", "extension", "contact", "status", "RTT", "user", "agent"]
    assert table[2].split() == ["saal1", "1001", "sip:saal1@10.0.0.1:5060", "Avail", "0.2", "ms", "-"]
    assert table[3].split() == ["saal2", "1002", "-", "MISSING", "-", "-"]


def test_a_phone_without_a_contact_after_its_password_changed_is_told_so():
    from roles.asterisk.report import NEW_PASSWORD

    assert registration_problems(serving(), [phone("saal1")], new_password=["saal1"]) == [("saal1", NEW_PASSWORD)]


def test_a_changed_password_changes_only_that_phones_fingerprint():
    from roles.asterisk.render import changed_credentials, credential_fingerprints
    from roles.event import Directory, Event

    def directory(password):
        accounts = (
            Account(name="a", extension="11", display_name="a", password=password),
            Account(name="b", extension="12", display_name="b", password="y" * 24),
        )
        return Directory(event=Event(name="e", network="10.0.0.0/8"), accounts=accounts)

    before, after = credential_fingerprints(directory("x" * 24)), credential_fingerprints(directory("z" * 24))
    assert "x" * 24 not in before and len(before.splitlines()) == 2
    assert changed_credentials(before.splitlines(), after) == ["a"]
    assert changed_credentials(before.splitlines(), before) == []
    assert changed_credentials(None, after) == []  # nothing recorded: nobody registered with televoc's
    assert changed_credentials(["a 0123"], after) == ["a"]  # b is new to the record, not changed


@pytest.mark.parametrize(
    ("status", "qualify", "why"),
    [
        ("Registered", "Avail", None),
        ("Rejected", "Avail", "rejected by the upstream, which answers otherwise: check the trunk's username"),
        ("Registered", "NonQual", None),
        ("Registered", "Unavail", "the upstream does not answer Asterisk's OPTIONS: calls over it fail"),
        ("Rejected", "Unavail", "the upstream does not answer (neither REGISTER nor OPTIONS)"),
        ("Unregistered", "Unavail", "the upstream does not answer (neither REGISTER nor OPTIONS)"),
        ("Rejected", "NonQual", "rejected by the upstream, or it did not answer in time"),
        ("Unregistered", "NonQual", "not registered (yet)"),
        ("Stopped", "Unavail", "stopped: Asterisk gave up registering"),
    ],
)
def test_a_trunk_problem_says_whether_the_upstream_answers_at_all(status, qualify, why):
    from roles.asterisk.report import trunk_problem
    from roles.shared.pbxcli import Contact, PbxState

    state = PbxState(
        running=True,
        outbound={"televoc-trunk": status},
        contacts=(Contact("televoc-trunk", "sip:10.0.0.1", qualify, None),),
    )
    said = trunk_problem(state, "televoc-trunk", "6000 at 10.0.0.1")
    if why is None:
        assert said is None
    else:
        sep = ", but " if status == "Registered" else ": "
        assert said.startswith(f"the trunk 6000 at 10.0.0.1 is {status}{sep}{why}"), said


def test_a_base_none_of_whose_handsets_is_ready_is_one_line_at_any_size():
    """40 bases of 30 handsets (1200 handsets): 38 up, one unplugged (its contacts linger
    Unavail), one never seen; one handset of an up base not registered; and a desk phone."""
    from roles.asterisk.report import summary

    def handset(base, n):
        return Account(name=f"{base}-{n:02d}", extension="2000", display_name="x", password="x" * 24, base=base, slot=n)

    bases = [f"b{i:02d}" for i in range(40)]
    phones = [phone("desk")] + [handset(b, n) for b in bases for n in range(1, 31)]
    contacts = [
        contact(p.name, "Avail") for p in phones if p.base not in ("b38", "b39") and p.name not in ("desk", "b05-07")
    ]
    contacts += [contact(p.name, "Unavail", None) for p in phones if p.base == "b38"]
    state = serving(phones=[p.name for p in phones], contacts=contacts)
    labels = [(b, f"10.23.1.{i}, snomM700") for i, b in enumerate(bases)]
    lines = summary(state, phones, registration_problems(state, phones), more=" (all: x.csv)", bases=labels)
    assert lines == [
        "1139 of 1201 phones ready (Avail 1139, MISSING 32, Unavail 30)",
        "  base b38 (10.23.1.38, snomM700) offline: 30 handsets",
        "  base b39 (10.23.1.39, snomM700) offline: 30 handsets",
        "  not registered (2): desk, b05-07",
    ]
