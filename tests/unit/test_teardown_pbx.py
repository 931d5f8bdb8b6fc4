"""Teardown on the PBX: the config it leaves has nothing of the event, what Asterisk still
lists is named, the trunk counts as withdrawn only when the upstream confirmed it, and the run
ends with one message. Pure; tests/lab_tests (teardown, venues, trunk) prove it on labs."""

from pathlib import Path

import pytest

from roles.asterisk.teardown import Removal, Unconfirmed, left, removed, withdrawal
from roles.event import load_directory, venue_directory
from roles.plan import buildup, teardown
from roles.shared import names
from roles.shared.leftovers import COMPLETE, NOTHING_LEFT, Leftovers, verdict
from roles.shared.pbxobjects import Outbound, PbxObjects

from .eventdirs import write

TRUNK_PASSWORD = "pw-trunk-Zq8vR2xLm4"
EVENT = (
    "name: harbour-fest\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
    "venues: {hall: {numbers: '1', address: 10.80.0.1}, camp: {numbers: '2', address: 10.80.0.2}}\n"
    "trunk: {registrar: 10.77.0.2, username: '6000', block: 6000, venue: hall, secret_file: t, dial_out: all}\n"
)
PHONES = (
    "phones:\n  - {name: h1, extension: 1001, pickup: desk}\n  - {name: h2, extension: 1002, pickup: desk}\n"
    "  - {name: c1, extension: 2001}\n"
)
GROUPS = "groups:\n  - {name: hallgroup, number: 1100, members: [h1, h2]}\n"


@pytest.fixture
def hall(tmp_path: Path):
    path = write(tmp_path, EVENT, PHONES, GROUPS, files={"t": (TRUNK_PASSWORD + "\n", 0o600)})
    return venue_directory(load_directory(path), "hall")


def secrets_of(directory) -> list[str]:
    found = [a.password for a in directory.accounts] + [p.password for p in directory.venue.peers]
    return [*found, directory.trunk.password]


def test_the_deploy_has_what_a_teardown_must_remove(hall):
    """The counterpart of the next test: the same words are in the deploy's config, so their
    absence after a teardown means something."""
    deployed = buildup(hall).asterisk
    text = "".join(deployed.conf_files.values()) + deployed.secrets
    for word in ("televoc-venue-camp", "televoc-trunk", "[h1]", "[from-internal]", names.DIALPLAN_GLOBAL, "harbour"):
        assert word in text, word
    assert all(secret in text for secret in secrets_of(hall))


def test_the_teardowns_config_has_nothing_of_the_event(hall):
    config = teardown(hall).asterisk
    text = "".join(config.conf_files.values()) + config.secrets
    for word in ("televoc-venue-camp", "televoc-trunk", "h1", "c1", "[from-internal]", names.DIALPLAN_GLOBAL):
        assert word not in text, word
    assert "harbour" not in text and "pickupexten" not in text  # the event's name, its pickup code
    assert not any(secret in text for secret in secrets_of(hall))
    assert config.secrets == "" and "#include" not in config.conf_files["pjsip.conf"]
    assert "type=" not in config.conf_files["pjsip.conf"].replace("type=transport", "")
    assert "clearglobalvars=yes" in config.conf_files["extensions.conf"]
    assert config.removal == Removal(trunks={names.TRUNK: "6000 at 10.77.0.2"})


def test_after_a_teardown_sip_is_open_to_the_phone_network_only_not_to_the_trunk_or_the_other_venues(hall):
    deployed, torn = buildup(hall).module.text, teardown(hall).module.text
    assert "10.77.0.2" in deployed and "10.80.0.2" in deployed
    assert "10.77.0.2" not in torn and "10.80.0.2" not in torn
    assert "ip saddr 10.23.0.0/24 udp dport 5060 accept" in torn


def listing(**names_by_kind) -> PbxObjects:
    return PbxObjects(listed={kind.replace("_", " "): tuple(v) for kind, v in names_by_kind.items()})


BEFORE = listing(
    endpoint=["h1", "televoc-trunk", "televoc-venue-camp"],
    auth=["h1", "televoc-trunk", "televoc-venue-camp"],
    identify=["televoc-trunk", "televoc-venue-camp"],
    stored_contact=["h1;@ab12"],
    context=["from-internal", "televoc-numbers"],
    **{"global": ["TELEVOC_DIALPLAN"]},
)


def test_what_went_is_counted_by_kind_and_what_is_still_there_is_named():
    after = listing(endpoint=["televoc-venue-camp"], identify=["televoc-venue-camp"])
    assert removed(BEFORE, after) == (
        "from Asterisk: 2 endpoints, 3 auths, 1 identify, 1 stored contact, 2 dialplan contexts, 1 dialplan global"
    )
    assert left(after) == (
        "still in Asterisk (1 endpoint, 1 identify): endpoint televoc-venue-camp, identify televoc-venue-camp"
    )
    assert left(listing()) is None and removed(BEFORE, BEFORE) is None and removed(None, after) is None
    assert removed(BEFORE, None).startswith("from Asterisk: 3 endpoints")  # stopped: all went with it


def test_a_long_list_of_leftovers_names_twenty_and_counts_the_rest():
    after = listing(aor=[f"p{i}" for i in range(2000)])
    text = left(after)
    assert text.startswith("still in Asterisk (2000 aors): aor p0, aor p1,") and text.endswith("... and 1980 more")


REGISTERED = Outbound("televoc-trunk", "sip:10.77.0.2", "Registered", 3500)


def test_the_trunk_is_withdrawn_only_when_the_upstream_confirmed_the_un_register():
    confirmed = Outbound("televoc-trunk", "sip:10.77.0.2", "Unregistered", 3490)
    assert withdrawal(REGISTERED, confirmed, "6000 at 10.77.0.2", 10) == (
        True,
        "the trunk 6000 at 10.77.0.2: un-REGISTERed, the upstream confirmed it (its contact there is gone)",
    )
    ok, text = withdrawal(REGISTERED, REGISTERED, "6000 at 10.77.0.2", 10)
    assert not ok
    assert text.startswith(
        "the trunk 6000 at 10.77.0.2: the upstream did not confirm the un-REGISTER within 10 s (Asterisk says "
        "Registered): it may route calls to this PBX until the registration expires, in about 3510 s;"
    )
    ok, text = withdrawal(REGISTERED, None, "6000 at 10.77.0.2", 10)
    assert not ok and "(Asterisk no longer lists it)" in text


def test_a_trunk_that_never_registered_is_said_so():
    never = Outbound("televoc-trunk", "sip:10.77.0.2", "Unregistered", None)
    ok, text = withdrawal(never, never, "6000 at 10.77.0.2", 10)
    assert ok and "was not registered (Unregistered)" in text


def test_a_registration_the_event_does_not_name_is_named_by_its_server():
    assert Removal().label(REGISTERED) == "televoc-trunk at sip:10.77.0.2"
    assert Removal({"televoc-trunk": "6000 at 10.77.0.2"}).label(REGISTERED) == "6000 at 10.77.0.2"


def test_one_message_per_pbx_complete_nothing_left_or_naming_what_is_left():
    done = Leftovers(removed=["from Asterisk: 2 endpoints", "files: /var/lib/televoc/credentials"])
    assert verdict(done) == (
        True,
        [f"{COMPLETE}; this run removed:", "    from Asterisk: 2 endpoints", "    files: /var/lib/televoc/credentials"],
    )
    assert verdict(Leftovers()) == (True, [NOTHING_LEFT])
    assert NOTHING_LEFT.startswith("nothing left")
    ok, lines = verdict(Leftovers(removed=["files: x"], left=["the trunk 6000: not confirmed", "1 of 2 phones: lobby"]))
    assert not ok
    assert lines[0] == "teardown incomplete: still left of the event on this PBX or its phones:"
    assert lines[1:3] == ["    the trunk 6000: not confirmed", "    1 of 2 phones: lobby"]
    assert "(this run removed: files: x)" in lines[3]


def test_an_unconfirmed_un_register_is_named_until_the_upstreams_registration_expires():
    note = Unconfirmed.of(REGISTERED, "6000 at 10.77.0.2", now=1_800_000_000)
    assert note == Unconfirmed("6000 at 10.77.0.2", "2027-01-15T08:00:00Z", 1_800_000_000 + 3510)
    assert Unconfirmed.from_json(note.to_json()) == note
    expired, text = note.judged(now=1_800_000_000 + 3509)
    assert not expired
    assert text == (
        "the trunk 6000 at 10.77.0.2: its un-REGISTER was not confirmed (2027-01-15T08:00:00Z): the upstream may "
        "route calls to this PBX until about 2027-01-15T08:58:30Z; ask its operators to drop the contact of "
        "6000 at 10.77.0.2, or run teardown again after that"
    )
    assert note.judged(now=1_800_000_000 + 3510) == (
        True,
        "the trunk 6000 at 10.77.0.2: its registration at the upstream has expired (2027-01-15T08:58:30Z)",
    )
    unknown = Outbound("televoc-trunk", "sip:10.77.0.2", "Rejected", None)
    assert Unconfirmed.of(unknown, "x", now=0).until == 3600  # Asterisk's default expiration


def test_a_note_televoc_did_not_write_is_refused_not_guessed_at():
    with pytest.raises(ValueError, match="not a televoc note"):
        Unconfirmed.from_json('{"label": "x"}')
