"""What the deploy reports from the provisioning server's state."""

from roles.event import Account, Directory, Event
from roles.shared.pbxcli import Contact, PbxState
from roles.snom.findings import Findings, findings


def directory():
    def snom(name, mac, address=None):
        return Account(
            name=name, extension="1001", display_name=name, password="x" * 24, mac=mac, model="snom320", address=address
        )

    return Directory(
        event=Event(name="e", network="10.23.0.0/24", pbx_address="10.23.0.2"),
        accounts=(snom("hall1", "000413a00001"), snom("desk", "000413a00003", "10.23.0.13")),
    )


def pbx(*pairs):
    return PbxState(
        running=True,
        aors=frozenset({"hall1", "desk"}),
        contacts=tuple(Contact(n, f"sip:{n}@{ip}:5060", "Avail", 1.0) for n, ip in pairs),
    )


def test_nothing_to_report_without_a_state():
    assert findings(None, directory(), pbx()) == Findings()


def test_a_fetch_from_the_phones_own_address_is_fine():
    server = {"fetches": {"000413A00001": {"source": "10.23.0.11"}, "000413A00003": {"source": "10.23.0.13"}}}
    assert findings(server, directory(), pbx(("hall1", "10.23.0.11"))).foreign == ()


def test_a_fetch_from_another_address_is_named_with_both_addresses():
    server = {"fetches": {"000413A00003": {"source": "10.23.0.66"}}}
    [sentence] = findings(server, directory(), pbx()).foreign
    assert sentence.startswith(
        "desk: its settings (passwords included) were fetched by 10.23.0.66, but the phone is at 10.23.0.13"
    )


def test_a_phone_whose_address_is_not_known_yet_is_not_judged():
    server = {"fetches": {"000413A00001": {"source": "10.23.0.66"}}}
    assert findings(server, directory(), pbx()).foreign == ()


def test_the_lock_refused_sources_and_unknown_macs_are_reported():
    server = {
        "locked": {"since": 1, "reason": "32 unknown MACs asked for by 10.23.0.66"},
        "refused": {"10.23.0.66": 40},
        "unknown": {"000413FFFF01": {}, "000413FFFF00": {}},
    }
    found = findings(server, directory(), pbx())
    assert found.locked == "32 unknown MACs asked for by 10.23.0.66"
    assert found.refused == {"10.23.0.66": 40} and found.unknown == ("000413FFFF00", "000413FFFF01")
