"""Loading and validating an event directory (no host involved)."""

from pathlib import Path

import pytest

from roles.event import EventError, derive_password, load_directory

EXAMPLE = Path(__file__).resolve().parents[2] / "group_data" / "event"

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"


def make(tmp_path: Path, phones: str, event: str = EVENT, secret: bool = True) -> Path:
    (tmp_path / "event.yml").write_text(event)
    (tmp_path / "phones.yml").write_text(phones)
    if secret:
        (tmp_path / "event.secret").write_text("s" * 40 + "\n")
    return tmp_path


def problems(tmp_path, phones, **kwargs) -> list[str]:
    with pytest.raises(EventError) as info:
        load_directory(make(tmp_path, phones, **kwargs))
    return info.value.problems


def test_example_event_mirrors_the_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(make(tmp_path, "phones: []") / "event.secret"))
    directory = load_directory(EXAMPLE)
    assert [(a.name, a.extension) for a in directory.accounts] == [
        ("saal1", "1001"), ("saal2", "1002"), ("backoffice", "1600"),
    ]


def test_missing_passwords_are_derived_strong_and_stable(tmp_path):
    directory = make(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n")
    first = load_directory(directory).accounts[0].password
    assert first == load_directory(directory).accounts[0].password
    assert len(first) == 24 and first != derive_password("t" * 40, "test-event", "saal1")


def test_typo_in_a_key_names_file_entry_and_fix(tmp_path):
    found = problems(tmp_path, "phones:\n  - {name: saal1, extention: 1001}\n")
    assert any("phones.yml: phones[0] (saal1): unknown key 'extention': did you mean 'extension'?" in p for p in found)
    assert any("phones[0] (saal1): 'extension' is required" in p for p in found)


def test_every_problem_is_listed_at_once(tmp_path):
    found = problems(
        tmp_path,
        "phones:\n"
        "  - {name: saal1, extension: 1001}\n"
        "  - {name: saal2, extension: 1001}\n"
        "  - {name: bo, extension: 100, password: short}\n"
        "  - {name: saal1, extension: 1003, password: saal1}\n",
    )
    text = "\n".join(found)
    assert "phones[1] (saal2): extension '1001' is already used by saal1" in text
    assert "phones[2] (bo): extension '100' is the hello_world test number" in text
    assert "phones[2] (bo): password is shorter than 12 characters" in text
    assert "phones[3] (saal1): name 'saal1' is already used by phones[0]" in text


def test_password_equal_to_name_is_refused(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: backoffice01, extension: 1600, password: backoffice01}\n")
    assert "password equals the phone's name" in p


def test_name_asterisk_cannot_take_is_refused(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: 'saal 1', extension: 1001}\n")
    assert "phones[0] (saal 1): name: value 'saal 1' does not match" in p


def test_reserved_name_is_refused(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: televoc-x, extension: 1001}\n")
    assert "reserved" in p


def test_malformed_yaml_names_the_line(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: [1001\n")
    assert "phones.yml (line" in p and "malformed YAML" in p


def test_missing_secret_says_how_to_create_it(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n", secret=False)
    assert "event secret" in p and "new-secret" in p


def test_no_secret_needed_when_every_password_is_given(tmp_path):
    directory = make(
        tmp_path, "phones:\n  - {name: saal1, extension: 1001, password: averylongpassword}\n", secret=False
    )
    assert load_directory(directory).accounts[0].password == "averylongpassword"


def test_repr_of_the_directory_hides_passwords(tmp_path):
    directory = load_directory(make(tmp_path, "phones:\n  - {name: saal1, extension: 1001, password: averylongpassword}\n"))
    assert "averylongpassword" not in repr(directory) + str(directory) + repr(directory.accounts)


def test_unquoted_numeric_mac_says_to_quote_it(tmp_path):
    found = problems(tmp_path, "phones:\n  - {name: a1, extension: 11, mac: 000413000001, model: snom300}\n",
                     event=EVENT + "pbx_address: 10.23.0.2\n")
    assert any("write it in quotes" in p for p in found)


def test_several_errors_in_one_entry_all_name_it(tmp_path):
    found = problems(tmp_path, "phones:\n  - {name: saal1, extension: x1, displayname: S, password: short}\n")
    assert len(found) == 2  # the password is judged once the entry is valid
    assert all("phones[0] (saal1)" in p for p in found), found


def test_passwords_command_shows_one_phone(tmp_path, capsys):
    from roles.event.__main__ import main

    directory = make(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n  - {name: saal2, extension: 1002}\n")
    assert main(["passwords", "--event", str(directory), "saal2"]) == 0
    out = capsys.readouterr().out
    assert load_directory(directory).accounts[1].password in out and "saal1" not in out
