"""Run settings: every --data value is converted in one place or refused naming the setting."""

import pytest

from roles import asterisk, nixos, snom  # noqa: F401  (they declare their settings)
from roles.shared.settings import REGISTRY, absolute_path, boolean, choice, names, seconds, unknown_given


@pytest.mark.parametrize("given,expected", [(True, True), ("yes", True), ("0", False), ("off", False), (False, False)])
def test_a_flag_takes_the_usual_words(given, expected):
    assert boolean(given) is expected


@pytest.mark.parametrize("given", ["maybe", "", 2])
def test_a_flag_refuses_anything_else(given):
    with pytest.raises(ValueError, match="expected true or false"):
        boolean(given)


def test_seconds_take_numbers_and_text_and_refuse_the_rest():
    assert seconds(30) == 30.0 and seconds("2.5") == 2.5
    for bad in ("soon", -1, "nan", 10**9):
        with pytest.raises(ValueError, match="seconds"):
            seconds(bad)


def test_a_choice_names_what_is_allowed():
    with pytest.raises(ValueError, match="expected 'strict' or 'report'"):
        choice("strict", "report")("strikt")


def test_names_come_comma_separated_or_as_a_list_without_repeats():
    assert names("saal1, saal2,saal1") == ("saal1", "saal2")
    assert names(["a", "b"]) == ("a", "b") and names("") == ()
    with pytest.raises(ValueError, match="phone names"):
        names("saal1;rm -rf")


def test_a_path_must_be_absolute():
    assert absolute_path("/var/lib/televoc/") == "/var/lib/televoc"
    with pytest.raises(ValueError):
        absolute_path("var/lib")


def test_a_misspelt_setting_is_refused_with_the_right_name():
    [problem] = unknown_given(["televoc_verfy", "ssh_port", "televoc_verify"])
    assert problem == "--data televoc_verfy: no such setting: did you mean televoc_verify?"


def test_every_default_is_accepted_by_its_own_converter():
    for setting in REGISTRY.values():
        setting.parse(setting.default)


def test_every_setting_has_a_sentence_and_the_reference_names_it():
    from roles.reference import DOC

    reference = DOC.read_text()
    for name, setting in REGISTRY.items():
        assert setting.doc and setting.doc[0].isalpha() and setting.doc.endswith("."), name
        assert f"`{name}`" in reference, f"docs/reference.md does not document {name}"


def _directory():
    from roles.event import Account, Directory, Event

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

    return Directory(
        event=Event(name="e", network="10.23.0.0/24", pbx_address="10.23.0.2"),
        accounts=(phone("a", "000413000001", "10.23.0.11"), phone("b", "000413000002"), phone("lobby")),
    )


def test_adopt_all_takes_every_provisioned_phone_with_an_address():
    from roles.snom.deploy import _chosen

    assert [a.name for a in _chosen(_directory(), ("all",), "televoc_adopt", need_address=True)] == ["a"]


def test_adopting_a_phone_that_is_not_provisioned_or_has_no_address_is_refused():
    from roles.shared.settings import SettingError
    from roles.snom.deploy import _chosen

    with pytest.raises(SettingError, match="not a provisioned phone .*: lobby, nobody"):
        _chosen(_directory(), ("lobby", "nobody"), "televoc_adopt", need_address=True)
    with pytest.raises(SettingError, match="no address in phones.yml: b"):
        _chosen(_directory(), ("b",), "televoc_adopt", need_address=True)


def test_the_deploy_waits_until_the_provisioning_server_shows_its_unlock_and_rearms():
    from roles.snom.operations import _acknowledged

    control = {"unlock": "t1", "rearm": {"000413000001": "r1"}}
    assert _acknowledged(None, {})
    assert not _acknowledged(None, control)
    assert not _acknowledged({"unlock_token": "t1", "rearm_tokens": {}}, control)
    assert _acknowledged({"unlock_token": "t1", "rearm_tokens": {"000413000001": "r1"}}, control)


def test_a_choice_takes_the_boolean_pyinfra_makes_of_true_and_false():
    # `--data televoc_table=false` reaches the setting as False, not as the text 'false'
    table = choice("auto", "true", "false")
    assert (table(False), table(True), table("false"), table("auto")) == ("false", "true", "false", "auto")
    with pytest.raises(ValueError):
        choice("strict", "report")(True)
