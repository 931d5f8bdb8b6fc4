"""The benchmark's synthetic Asterisk CLI text (lab/bench/asterisk_text.py) is Asterisk 22's
own: rendered from the values of the lab's real captures, it is those captures byte for byte,
and parse_state reads N phones from it."""

from pathlib import Path

from lab.bench import asterisk_text as text
from roles.asterisk.report import registration_problems
from roles.event import Account
from roles.shared import pbxcli as cli

CAPTURES = Path(__file__).parent / "captures"


def capture(name: str) -> str:
    """A capture's output, without its '$ command' and '[exit code]' lines."""
    lines = (CAPTURES / name).read_text().split("\n")
    return "\n".join(line for line in lines if not line.startswith("$ ") and not line.startswith("[exit code"))


def baresip(aor: str, uri: str, rtt: float, call_id: str, port: str) -> text.Registered:
    return text.Registered(
        aor=aor,
        uri=uri,
        status="Avail",
        rtt_ms=rtt,
        user_agent="baresip v1.1.0 (x86_64/linux)",
        via_addr="127.0.0.1",
        via_port=port,
        call_id=call_id,
        expiration_time=1795682922,
    )


THREE = [
    baresip("backoffice", "sip:backoffice-0x556a5cdb0370@127.0.0.1:5073", 0.629, "a4be22512fc1842c", "5073"),
    baresip("saal1", "sip:saal1-0x5614dfc44370@127.0.0.1:5071", 0.348, "132cf5d74dcd1295", "5071"),
    baresip("saal2", "sip:saal2-0x55af8a1a3370@127.0.0.1:5072", 0.242, "0e9ae7c3a287954d", "5072"),
]
NONQUAL = text.Registered(aor="saal1", uri="sip:saal1@127.0.0.1:5070", status="NonQual", rtt_ms=None)


def test_contact_id_hash_is_the_md5_of_the_uri_as_asterisk_lists_it():
    assert THREE[0].hash.startswith("2751c0d215")
    assert NONQUAL.hash.startswith("940f7819c0")


def test_show_aors_with_contacts_and_the_generation_marker():
    aors = {"backoffice": 1, "saal1": 1, "saal2": 1, "televoc-generation-a686ab29cef5f198": 0}
    assert text.show_aors(aors, THREE) == capture("pjsip-show-aors.3-registered-marker.txt")


def test_show_aors_before_and_after_one_registration():
    aors = {"backoffice": 1, "saal1": 1, "saal2": 1}
    assert text.show_aors(aors, []) == capture("pjsip-show-aors.before-register.txt")
    assert text.show_aors(aors, [NONQUAL]) == capture("pjsip-show-aors.1-registered.txt")


def test_registrar_rows_are_the_astdb_capture():
    assert text.registrar(THREE) == capture("database-show-registrar-contact.3-registered.txt")


def test_globals_transports_and_version_are_the_captures():
    assert text.dialplan_globals({"TELEVOC_DIALPLAN": "aa19070abaa9a29b"}) == capture("dialplan-show-globals.txt")
    assert text.show_transports({"transport-udp": "0.0.0.0:5060"}) == capture("pjsip-show-transports.txt")
    assert text.VERSION + "\n" == capture("core-show-version.txt")


def test_parse_state_reads_every_phone_of_the_synthetic_state():
    names = [f"phone{i:04d}" for i in range(300)]
    contacts = text.snom_contacts(names)
    output = text.state_output(names, contacts, "0123456789abcdef", "fedcba9876543210")
    state = cli.parse_state(output.splitlines())
    assert state.running and state.generation == "0123456789abcdef"
    assert state.dialplan_generation == "fedcba9876543210"
    assert state.phone_aors() == set(names) and state.registered == set(names)
    assert len(state.contacts) == 300 and {c.status for c in state.contacts} == {"Avail"}
    # the listing cuts the URIs; the registrar gives them whole
    assert [c.uri for c in state.contacts_of("phone0042")] == [contacts[42].uri]
    assert state.contacts_of("phone0042")[0].user_agent == "snom320/8.7.5.35"
    phones = [Account(name=n, extension=str(2000 + i), display_name=n, password="x" * 24) for i, n in enumerate(names)]
    assert registration_problems(state, phones) == []


def test_rendered_like_gives_back_the_same_text_for_a_synthetic_state():
    names = [f"phone{i:04d}" for i in range(50)]
    contacts = text.snom_contacts(names)
    contacts[7] = text.Registered(aor="phone0007", uri="sip:phone0007@10.23.0.9:5060", status="Unavail", rtt_ms=None)
    output = text.state_output(names, contacts, "0123456789abcdef", "fedcba9876543210")
    assert text.rendered_like(output) == output


def test_from_sliced_from_phones_on_the_synthetic_state_lists_the_aors_in_slices():
    names = [f"phone{i:04d}" for i in range(cli.SLICED_FROM)]
    contacts = text.snom_contacts(names[:50])
    output = text.state_output(names, contacts, "0123456789abcdef", "fedcba9876543210")
    sections = cli.split_sections(output.splitlines())
    assert cli.AOR_LISTING not in sections and all(c in sections for c in cli.AOR_LISTINGS)
    state = cli.parse_state(output.splitlines())
    assert state.phone_aors() == set(names) and state.registered == set(names[:50])
    assert text.rendered_like(output) == output
