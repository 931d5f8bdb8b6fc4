"""Parsers of Asterisk 22 CLI output, against real captures (tests/unit/captures/)."""

import re
from pathlib import Path

import pytest

from roles.shared import pbxcli as cli
from roles.shared.names import PJSIP_TYPE_FILES

CAPTURES = Path(__file__).parent / "captures"


def capture(name: str) -> list[str]:
    """The output lines of a capture, without the '$ command' and '[exit code]' lines."""
    lines = (CAPTURES / name).read_text().splitlines()
    return [line for line in lines if not line.startswith("$ ") and not line.startswith("[exit code")]


def test_aors_before_register_lists_every_aor():
    aors = cli.parse_aors(capture("pjsip-show-aors.before-register.txt"))
    assert sorted(aors) == ["backoffice", "saal1", "saal2"]


def test_aors_with_a_registered_phone_are_the_aor_names_only():
    assert cli.parse_aors(capture("pjsip-show-aors.1-registered.txt")) == {"backoffice", "saal1", "saal2"}


def test_contacts_are_found_by_aor_and_the_registered_set_lists_each_aor_once():
    contacts = (
        cli.Contact("saal1", "sip:a", "Avail", 1.0),
        cli.Contact("saal2", "sip:b", "Unavail", None),
        cli.Contact("saal1", "sip:c", "NonQual", None),
    )
    state = cli.PbxState(running=True, aors=frozenset({"saal1", "saal2", "saal3"}), contacts=contacts)
    assert [c.uri for c in state.contacts_of("saal1")] == ["sip:a", "sip:c"]
    assert state.contacts_of("saal3") == []
    assert state.registered == {"saal1", "saal2"}


def test_contacts_give_full_uri_status_and_nan_rtt_as_none():
    contacts = cli.parse_contacts(capture("pjsip-show-contacts.1-registered.txt"))
    assert contacts == [cli.Contact("saal1", "sip:saal1@127.0.0.1:5070", "NonQual", None, hash="940f7819c0")]


def test_no_objects_found_is_an_empty_list():
    assert cli.parse_contacts(capture("pjsip-show-contacts.before-register.txt")) == []


def test_avail_contact_with_rtt_and_long_uri():
    line = "  Contact:  saal2/sip:saal2@10.23.0.17:5060;transport=udp;line=abcdefgh  0123abcd99 Avail          12.5"
    [contact] = cli.parse_contacts(["", line])
    assert contact.uri == "sip:saal2@10.23.0.17:5060;transport=udp;line=abcdefgh"
    assert (contact.status, contact.rtt_ms) == ("Avail", 12.5)


def test_unknown_command_is_an_error_not_an_empty_listing():
    with pytest.raises(ValueError, match="No such command"):
        cli.parse_aors(capture("reload-07-unknown-command.txt"))


def test_state_of_a_stopped_asterisk_is_not_running():
    text = capture("not-running.txt")[0]
    lines = []
    for command in cli.STATE_COMMANDS:
        lines += [cli.SECTION_MARK + command, text]
    assert cli.parse_state(lines) == cli.PbxState(running=False)


def test_aor_slices_take_every_name_exactly_once():
    names = ["saal1", "backoffice", "info-desk", "Lobby", "desk_A", "hall.2", "x", "9", "televoc-generation-0a", "M_"]
    for name in names:
        taking = [p for p in cli.AOR_SLICES if re.search(p, name)]
        assert len(taking) == 1, (name, taking)


def test_the_aors_are_listed_whole_below_sliced_from_and_in_slices_from_there_or_when_not_known():
    assert cli.aor_listings(10) == cli.aor_listings(cli.SLICED_FROM - 1) == ("pjsip show aors",)
    assert cli.aor_listings(cli.SLICED_FROM) == cli.aor_listings(None) == cli.AOR_LISTINGS
    assert cli.state_commands(10)[1] == "pjsip show aors" and cli.STATE_COMMANDS == cli.state_commands(None)


def test_state_from_the_whole_listing():
    lines = [cli.SECTION_MARK + "core show version", *capture("core-show-version.txt")]
    lines += [cli.SECTION_MARK + "pjsip show aors", *capture("pjsip-show-aors.1-registered.txt")]
    for command in cli.OTHER_STATE_COMMANDS:
        lines += [cli.SECTION_MARK + command]
    state = cli.parse_state(lines)
    assert state.aors == {"saal1", "saal2", "backoffice"}
    assert [(c.aor, c.status) for c in state.contacts] == [("saal1", "NonQual")]


def test_state_with_a_slice_missing_is_refused():
    lines = [cli.SECTION_MARK + c for c in cli.STATE_COMMANDS if c != cli.AOR_LISTINGS[3]]
    with pytest.raises(ValueError, match="no answer for: pjsip show aors like 3"):
        cli.parse_state(lines)


def test_state_joins_the_slices_of_the_aors():
    """Each aor and its contacts come from the slice that lists it; empty slices list none."""
    registered = capture("pjsip-show-aors.1-registered.txt")  # backoffice, saal1 (registered), saal2
    by_slice = {
        "pjsip show aors like 1$": [line for line in registered if "saal2" not in line and "backoffice" not in line],
        "pjsip show aors like 2$": ["", "      Aor:  saal2                                                1", ""],
        "pjsip show aors like [abcdefghijklm]$": [
            "",
            "      Aor:  backoffice                                           1",
            "",
        ],
    }
    lines = [cli.SECTION_MARK + "core show version", *capture("core-show-version.txt")]
    for command in cli.STATE_COMMANDS[1:]:
        answer = by_slice.get(command, ["No objects found.", ""] if command in cli.AOR_LISTINGS else [])
        lines += [cli.SECTION_MARK + command, *answer]
    state = cli.parse_state(lines)
    assert state.aors == {"saal1", "saal2", "backoffice"}
    assert [(c.aor, c.status) for c in state.contacts] == [("saal1", "NonQual")]


def test_state_reads_generation_marker_and_dialplan_global():
    lines = [cli.SECTION_MARK + "core show version", *capture("core-show-version.txt")]
    aors = capture("pjsip-show-aors.1-registered.txt")
    aors[-3:-3] = ["      Aor:  televoc-generation-0123456789abcdef                  0", ""]
    for command in cli.AOR_LISTINGS:  # everything in one slice, the others empty
        lines += [cli.SECTION_MARK + command, *(aors if command == cli.AOR_LISTINGS[0] else ["No objects found."])]
    lines += [
        cli.SECTION_MARK + "dialplan show globals",
        "   TELEVOC_DIALPLAN=feedbeef00112233",
        "",
        "    -- 1 variable(s)",
    ]
    lines += [cli.SECTION_MARK + "database show registrar/contact", "0 results found."]
    lines += [cli.SECTION_MARK + "pjsip show transports", *capture("pjsip-show-transports.txt")]
    lines += [cli.SECTION_MARK + "pjsip show registrations", *capture("pjsip-show-registrations.registered.txt")]
    lines += [cli.SECTION_MARK + "config list", *capture("config-list.split.txt")]
    state = cli.parse_state(lines)
    assert {"pjsip.conf", "sorcery.conf", *PJSIP_TYPE_FILES.values()} <= state.config_files
    assert state.running and state.version.startswith("22.10.1")
    assert state.outbound == {"televoc-trunk": "Registered"}
    assert state.generation == "0123456789abcdef"
    assert state.dialplan_generation == "feedbeef00112233"
    assert state.phone_aors() == {"saal1", "saal2", "backoffice"}
    assert [c.aor for c in state.contacts] == ["saal1"]


def test_state_with_a_missing_section_is_refused():
    with pytest.raises(ValueError, match="no answer"):
        cli.parse_state([cli.SECTION_MARK + "core show version", "Asterisk 22"])


def test_long_contact_uris_are_cut_in_the_listing_but_full_from_the_registrar():
    contacts = cli.parse_contacts(capture("pjsip-show-contacts.3-registered-long-uri.txt"))
    backoffice = [c for c in contacts if c.aor == "backoffice"][0]
    assert backoffice.uri == "sip:backoffice-0x556a5cdb0370@127.0"  # cut by Asterisk
    registrations = cli.parse_registrations(capture("database-show-registrar-contact.3-registered.txt"))
    assert len(registrations) == 3
    full = {c.aor: c for c in cli.with_full_uris(contacts, registrations)}
    assert full["backoffice"].uri == "sip:backoffice-0x556a5cdb0370@127.0.0.1:5073"
    assert full["backoffice"].user_agent == "baresip v1.1.0 (x86_64/linux)"
    assert (full["saal1"].status, full["saal1"].rtt_ms) == ("Avail", 0.348)


def test_aors_list_the_generation_marker_apart_from_phones():
    lines = capture("pjsip-show-aors.3-registered-marker.txt")
    state = cli.PbxState(running=True, aors=cli.parse_aors(lines))
    assert state.generation == "a686ab29cef5f198"
    assert state.phone_aors() == {"backoffice", "saal1", "saal2"}


def test_dialplan_globals_from_the_lab():
    assert cli.parse_globals(capture("dialplan-show-globals.txt")) == {"TELEVOC_DIALPLAN": "aa19070abaa9a29b"}


def test_empty_registrar_is_no_registrations():
    assert cli.parse_registrations(["0 results found.", ""]) == []


def test_transports_give_the_bind_address():
    assert cli.parse_transports(capture("pjsip-show-transports.txt")) == {"transport-udp": "0.0.0.0:5060"}


def test_state_without_an_asterisk_command_is_not_running():
    lines = []
    for command in cli.STATE_COMMANDS:
        lines += [cli.SECTION_MARK + command, "sh: 1: asterisk: not found"]
    assert cli.parse_state(lines) == cli.PbxState(running=False)


@pytest.mark.parametrize(
    "capture_name,expected",
    [
        ("pjsip-show-registrations.registered.txt", {"televoc-trunk": "Registered"}),
        ("pjsip-show-registrations.rejected.txt", {"televoc-trunk": "Rejected"}),
        ("pjsip-show-registrations.unregistered.txt", {"televoc-trunk": "Unregistered"}),
        ("pjsip-show-registrations.none.txt", {}),
    ],
)
def test_outbound_registrations_give_each_status_as_asterisk_prints_it(capture_name, expected):
    assert cli.parse_outbound_registrations(capture(capture_name)) == expected


def test_config_list_filtered_on_the_pbx_reads_the_same_files_and_keeps_an_error():
    """The state script keeps of `config list` each file's name once (the wizards' ids change
    with every start): the parser reads the same names from that as from Asterisk's lines,
    and an unknown command still fails it."""
    import subprocess

    raw = capture("config-list.split.txt")
    filtered = subprocess.run(
        ["sh", "-c", cli._CONFIG_FILE_NAMES], input="\n".join(raw) + "\n", capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert cli.parse_config_list(filtered) == cli.parse_config_list(raw)
    assert {"pjsip.conf", "sorcery.conf", "pjsip-secrets.conf", *PJSIP_TYPE_FILES.values()} <= set(filtered)
    error = "No such command 'config list' (type 'core show help config' for other commands)"
    unknown = subprocess.run(["sh", "-c", cli._CONFIG_FILE_NAMES], input=error + "\n", capture_output=True, text=True)
    with pytest.raises(ValueError, match="No such command"):
        cli.parse_config_list(unknown.stdout.splitlines())
