"""What the deploy reports from the provisioning server's state."""

from roles.event import Account, Directory, Event
from roles.shared.pbxcli import Contact, PbxState
from roles.snom.findings import Findings, Sweeper, findings, lock_sentence, sweepers_sentence


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


def test_sources_refused_for_sweeping_are_reported_apart_from_the_lock_and_other_refusals():
    server = {
        "refused": {"10.23.0.68": 300, "10.23.0.66": 2, "10.23.0.69": 8},
        "sweepers": {"10.23.0.69": {"since": 1800000060, "macs": 8}, "10.23.0.68": {"since": 1800000000, "macs": 8}},
        "locked": None,
    }
    found = findings(server, directory(), pbx())
    assert found.locked is None
    assert found.sweepers == (Sweeper("10.23.0.68", 1800000000, 8), Sweeper("10.23.0.69", 1800000060, 8))
    assert found.refused == {"10.23.0.66": 2}  # the sweepers are named in their own sentence
    assert sweepers_sentence(found.sweepers) == (
        "the provisioning server refuses 2 addresses for sweeping MACs: 10.23.0.68 (8 unknown MACs, since "
        "2027-01-15T08:00:00Z), 10.23.0.69 (8 unknown MACs, since 2027-01-15T08:01:00Z). They get no phone's "
        "settings and fail2ban bans them from every port; the phones at every other address are served. If one "
        "of them is a phone or the crew's laptop, find out why it asked for other MACs, then forgive it with "
        "--data televoc_provisioning_unlock=true"
    )
    assert sweepers_sentence(()) == ""


def test_many_sweepers_are_counted_not_all_listed():
    sweepers = tuple(Sweeper(f"10.23.0.{i}", 1800000000 + i, 8) for i in range(12))
    sentence = sweepers_sentence(sweepers)
    assert sentence.startswith("the provisioning server refuses 12 addresses for sweeping MACs: 10.23.0.0 (")
    assert "10.23.0.9 (8 unknown MACs" in sentence and "10.23.0.10 (" not in sentence
    assert "and 2 more. They get" in sentence


def test_the_lock_says_how_the_crew_lifts_it_on_the_pbx_or_with_a_deploy():
    sentence = lock_sentence("128 unknown MACs asked for by 10.23.0.66", "/var/lib/televoc-provisioning/unlock")
    assert sentence == (
        "the provisioning server is LOCKED (128 unknown MACs asked for by 10.23.0.66): no phone can fetch its "
        "settings. Someone guessed MACs from many addresses; find them, then lift the lock on the PBX, as root: "
        "touch /var/lib/televoc-provisioning/unlock (within a second, no deploy; the addresses refused for "
        "sweeping stay refused), or deploy with --data televoc_provisioning_unlock=true (which forgives them too)"
    )
