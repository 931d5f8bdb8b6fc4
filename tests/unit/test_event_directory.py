"""Loading and validating an event directory (no host involved)."""

import os
from pathlib import Path

import pytest

from roles.event import EventError, derive_password, load_directory

EXAMPLE = Path(__file__).resolve().parents[2] / "group_data" / "event"

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
# zxcvbn estimates 10^18 guesses for it: strong enough.
STRONG = "Tk7-wQ3v-Lm9z-Rb2x"


def make(tmp_path: Path, phones: str, event: str = EVENT, secret: bool = True) -> Path:
    (tmp_path / "event.yml").write_text(event)
    (tmp_path / "phones.yml").write_text(phones)
    if secret:
        (tmp_path / "event.secret").write_text("s" * 40 + "\n")
        (tmp_path / "event.secret").chmod(0o600)
    return tmp_path


def problems(tmp_path, phones, **kwargs) -> list[str]:
    with pytest.raises(EventError) as info:
        load_directory(make(tmp_path, phones, **kwargs))
    return info.value.problems


def test_example_event_still_loads_and_mirrors_the_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(make(tmp_path, "phones: []") / "event.secret"))
    directory = load_directory(EXAMPLE)
    assert [(a.name, a.extension) for a in directory.accounts] == [
        ("saal1", "1001"),
        ("saal2", "1002"),
        ("backoffice", "1600"),
    ]
    assert directory.event.sip.port == 5060 and directory.event.test_numbers.echo == "101"


def test_missing_passwords_are_derived_strong_and_stable(tmp_path):
    directory = make(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n")
    first = load_directory(directory).accounts[0].password
    assert first == load_directory(directory).accounts[0].password
    assert len(first) == 24 and first != derive_password("t" * 40, "test-event", "saal1")


def test_a_problem_reads_file_line_entry_field_rule_and_fix(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - name: saal1\n    extension: 1001\n  - name: saal2\n    extension: '1001'\n")
    assert p == (
        f"{tmp_path}/phones.yml:5: phone 2 (saal2): extension: '1001' is already used by phone 1 "
        "(saal1), line 3: give each phone its own extension"
    )


def test_the_file_is_named_relative_to_the_working_directory(tmp_path, monkeypatch):
    make(tmp_path, "phones:\n  - {name: saal1, extension: 1001, extention: 1001}\n")
    monkeypatch.chdir(tmp_path.parent)
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: 1001, extention: 1001}\n")
    assert p.startswith(f"{tmp_path.name}/phones.yml:2: phone 1 (saal1): extention: unknown key")


def test_typo_in_a_key_says_did_you_mean(tmp_path):
    found = problems(tmp_path, "phones:\n  - name: saal1\n    extention: 1001\n")
    assert any(
        p.endswith("phones.yml:3: phone 1 (saal1): extention: unknown key: did you mean 'extension'?") for p in found
    )
    assert any(
        p.endswith("phones.yml:2: phone 1 (saal1): extension: is required: add it, e.g. extension: 1001") for p in found
    ), found


def test_entries_are_counted_from_one_and_named_and_lines_are_the_files(tmp_path):
    phones = "phones:\n" + "".join(f"  - name: p{i}\n    extension: {1000 + i}\n" for i in range(1, 21))
    phones += "  - name: saal2\n    extension: 1003\n"
    [p] = problems(tmp_path, phones)
    assert p.endswith(
        "phones.yml:43: phone 21 (saal2): extension: '1003' is already used by phone 3 (p3), line 7: give each phone its own extension"
    )


def test_every_problem_is_listed_at_once_in_file_order(tmp_path):
    found = problems(
        tmp_path,
        "phones:\n"
        "  - {name: saal1, extension: 1001}\n"
        "  - {name: saal2, extension: 1001}\n"
        "  - {name: bo, extension: 100, password: short}\n"
        "  - {name: saal1, extension: 1003, password: saal1}\n"
        "  - {name: küche, extension: 0100, displayname: K}\n",
        event=EVENT + "sip:\n  port: 0x13c4\n",
    )
    assert [p.split(": ", 1)[0].rsplit("/", 1)[1] for p in found] == [
        "event.yml:5",
        "phones.yml:3",
        "phones.yml:4",
        "phones.yml:4",
        "phones.yml:5",
        "phones.yml:5",
        "phones.yml:6",
        "phones.yml:6",
        "phones.yml:6",
    ]
    text = "\n".join(found)
    assert "event.yml:5: sip: port: YAML 1.1 reads 0x13c4 as the number 5060 (hexadecimal)" in text
    assert "phone 2 (saal2): extension: '1001' is already used by phone 1 (saal1), line 2" in text
    assert "phone 3 (bo): extension: '100' is the hello_world test number" in text
    assert "phone 3 (bo): password: has 5 characters, but a password needs at least 12" in text
    assert "phone 4 (saal1): name: 'saal1' is already used by phone 1 (saal1), line 2" in text
    assert "phone 4 (saal1): password: has 5 characters" in text
    assert "phone 5 (küche): name: 'küche' has 'ü'" in text
    assert "phone 5 (küche): extension: YAML 1.1 reads 0100 as the number 64" in text
    assert "phone 5 (küche): displayname: unknown key: did you mean 'display_name'?" in text


def test_no_pydantic_wording_reaches_the_person(tmp_path):
    found = problems(
        tmp_path,
        "phones:\n"
        "  - {name: 'saal 1', extension: 1001, display_name: 12, ringer: ringer3, model: snom 320}\n"
        "  - {name: saal2, extension: x12, mac: 'zz', contact: 'tel:1', address: here}\n"
        "  - {name: [a], extension: 1003}\n"
        "  - {extension: 1004, password: 'has space in it'}\n",
        event=EVENT + "sip: {port: 70000, bind: everywhere}\nring_timeout: soon\nprovisioning: 5\n",
    )
    text = "\n".join(found)
    assert len(found) == 15, text
    for pydantic_says in ("Value error", "String should", "Input should", "should be", "pattern", "^", "Extra inputs"):
        assert pydantic_says not in text


def test_a_non_ascii_name_says_why_and_suggests_a_spelling(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: küche, extension: 1001}\n")
    assert p.endswith(
        "phones.yml:2: phone 1 (küche): name: 'küche' has 'ü', but a name takes only letters a-z A-Z "
        "(no umlauts), digits, '_', '.', '-', at most 40 characters, starting with a letter or digit "
        "(it becomes the SIP account, which is ASCII): write 'kueche'"
    )


def test_a_name_with_a_space_gets_a_spelling_without(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: 'saal 1', extension: 1001}\n")
    assert "name: 'saal 1' has a space, but a name takes only letters" in p and p.endswith("write 'saal-1'")


def test_an_event_name_in_capitals_gets_the_lower_case_spelling(tmp_path):
    [p] = problems(
        tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n", event="name: Winter Fest\nnetwork: 10.0.0.0/8\n"
    )
    assert "event.yml:1: name: 'Winter Fest' has 'W', a space, 'F', but an event name takes only" in p
    assert p.endswith("write 'winter-fest'")


def test_a_number_where_text_belongs_says_to_quote_it(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: 1001, display_name: 1.10}\n")
    assert p.endswith('display_name: YAML reads 1.10 as the number 1.1, not as text: write it in quotes, "1.10"')


def test_a_boolean_where_a_number_belongs_is_refused(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n", event=EVENT + "ring_timeout: true\n")
    assert p.endswith(
        "event.yml:4: ring_timeout: is the boolean true, but ring_timeout (the seconds a call rings) is a "
        "whole number from 5 to 300: e.g. ring_timeout: 20"
    )


def test_password_equal_to_name_is_refused(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: backoffice01, extension: 1600, password: backoffice01}\n")
    assert "password: is the phone's name, which anybody can guess" in p


def test_a_dictionary_password_is_refused_saying_why_and_what_to_do(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - name: saal1\n    extension: 1001\n    password: correcthorsebattery\n")
    assert p.startswith(f"{tmp_path}/phones.yml:4: phone 1 (saal1): password: is too easy to guess: ")
    assert "about 10^10 guesses" in p and "'horse' (a common password)" in p
    assert "televoc asks for at least 10^12" in p
    assert p.endswith("delete the password line, and televoc derives a strong one from the event secret")


def test_a_season_and_year_password_is_refused(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: 1001, password: Summer2026!Summer}\n")
    assert "password: is too easy to guess" in p and "'Summer' (a common password)" in p


def test_a_password_built_from_the_event_and_the_phone_is_refused(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: 1001, password: test-event-saal1-1001}\n")
    assert "the event's or the phone's own name, number or display name" in p


def test_a_strong_password_is_taken_and_needs_no_secret(tmp_path):
    directory = make(tmp_path, f"phones:\n  - {{name: saal1, extension: 1001, password: {STRONG}}}\n", secret=False)
    assert load_directory(directory).accounts[0].password == STRONG


def test_the_old_web_password_is_not_judged(tmp_path):
    directory = make(
        tmp_path,
        "phones:\n  - {name: saal1, extension: 1001, mac: '00:04:13:2a:bc:de', model: snom320, web_password_before: '0000'}\n",
        event=EVENT + "pbx_address: 10.23.0.2\n",
    )
    assert load_directory(directory).accounts[0].web_password_before == "0000"


def test_reserved_name_is_refused(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: televoc-x, extension: 1001}\n")
    assert "name: 'televoc-x' is reserved for televoc's own config: choose another name" in p


def test_malformed_yaml_names_the_line(tmp_path):
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: [1001\n")
    assert p.startswith(f"{tmp_path}/phones.yml:3: malformed YAML (column 1): ") and p.endswith("fix the syntax there")


def test_a_tab_in_the_indentation_gets_its_own_hint(tmp_path):
    [p] = problems(tmp_path, "phones:\n\t- {name: saal1, extension: 1001}\n")
    assert "phones.yml:2: malformed YAML" in p and p.endswith("indent with spaces, not tabs")


def test_missing_secret_prints_the_command_with_the_real_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n", secret=False)
    assert p == (
        f"{tmp_path}/event.secret: the event secret is missing, but phone 1 (saal1) has no password, "
        f"which is derived from it: create it: python -m roles.event new-secret --event {tmp_path.name}"
    )


def test_short_secret_says_to_replace_it(tmp_path):
    make(tmp_path, "")
    (tmp_path / "event.secret").write_text("short\n")
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n", secret=False)
    assert "the event secret has 5 characters, fewer than 32: delete it" in p and "new-secret --event" in p


@pytest.mark.parametrize("mode, who", [(0o644, "its group and others"), (0o640, "its group"), (0o604, "others")])
def test_a_secret_others_can_read_is_refused_like_an_ssh_key(tmp_path, mode, who):
    make(tmp_path, "")
    secret = tmp_path / "event.secret"
    secret.chmod(mode)
    [p] = problems(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n", secret=False)
    assert p == (
        f"{secret}: the event secret is open to {who} (mode {mode:04o}), and like an ssh private key it "
        f"must be private to its owner: chmod 600 {secret}"
    )


def test_a_secret_created_by_televoc_is_private(tmp_path):
    from roles.event import create_secret

    assert create_secret(tmp_path / "sub" / "event.secret")
    assert os.stat(tmp_path / "sub" / "event.secret").st_mode & 0o777 == 0o600


def test_repr_of_the_directory_hides_passwords(tmp_path):
    directory = load_directory(make(tmp_path, f"phones:\n  - {{name: saal1, extension: 1001, password: {STRONG}}}\n"))
    assert STRONG not in repr(directory) + str(directory) + repr(directory.accounts)


def test_unquoted_numeric_mac_says_to_quote_it(tmp_path):
    found = problems(
        tmp_path,
        "phones:\n  - {name: a1, extension: 11, mac: 000413000001, model: snom300}\n",
        event=EVENT + "pbx_address: 10.23.0.2\n",
    )
    assert found == [
        f"{tmp_path}/phones.yml:2: phone 1 (a1): mac: YAML 1.1 reads 000413000001 as the number 69992449 "
        '(octal, because it starts with 0): write it in quotes, "000413000001"'
    ]


def test_a_mac_yaml_reads_as_a_decimal_number_says_to_quote_it(tmp_path):
    [p] = problems(
        tmp_path,
        "phones:\n  - {name: a1, extension: 11, mac: 123456789012, model: snom300}\n",
        event=EVENT + "pbx_address: 10.23.0.2\n",
    )
    assert "mac: YAML reads 123456789012 as a number, but a MAC is text: write it in quotes" in p


def test_a_mac_used_twice_names_the_other_phone_and_its_line(tmp_path):
    [p] = problems(
        tmp_path,
        "phones:\n  - {name: a1, extension: 11, mac: '00:04:13:2a:bc:de', model: snom300}\n"
        "  - {name: a2, extension: 12, mac: '0004132ABCDE', model: snom300}\n",
        event=EVENT + "pbx_address: 10.23.0.2\n",
    )
    assert "phone 2 (a2): mac: is already used by phone 1 (a1), line 2" in p


def test_several_errors_in_one_entry_are_all_listed_and_name_it(tmp_path):
    found = problems(tmp_path, "phones:\n  - {name: saal1, extension: x1, displayname: S, password: short}\n")
    assert len(found) == 3, found  # the password is judged although the entry has other problems
    assert all("phones.yml:2: phone 1 (saal1): " in p for p in found), found


def test_check_lists_the_problems_without_claiming_a_deploy(tmp_path, capsys):
    from roles.event.__main__ import main

    directory = make(tmp_path, "phones:\n  - {name: saal1, extension: 1001, pasword: x}\n")
    assert main(["check", "--event", str(directory)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"televoc: the event directory {tmp_path} has 1 problem:",
        f"{tmp_path}/phones.yml:2: phone 1 (saal1): pasword: unknown key: did you mean 'password'?",
    ]
    assert "deployed" not in err


def test_check_says_ok_for_a_good_directory(tmp_path, capsys):
    from roles.event.__main__ import main

    assert main(["check", "--event", str(make(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n"))]) == 0
    assert "event 'test-event', 1 phones, 0 groups: OK" in capsys.readouterr().out


def test_new_secret_reads_event_yml_strictly(tmp_path, capsys, monkeypatch):
    from roles.event.__main__ import main

    monkeypatch.delenv("TELEVOC_SECRET_FILE", raising=False)
    make(
        tmp_path,
        "phones: []\n",
        event="name: test-event\nname: other\nnetwork: 10.0.0.0/8\nsecret_file: s\n",
        secret=False,
    )
    assert main(["new-secret", "--event", str(tmp_path)]) == 2
    assert "event.yml:2: name: the key is written twice" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_new_secret_creates_a_private_secret_where_the_event_says(tmp_path, capsys, monkeypatch):
    from roles.event.__main__ import main

    monkeypatch.delenv("TELEVOC_SECRET_FILE", raising=False)
    make(tmp_path, "phones: []\n", event=EVENT, secret=False)
    assert main(["new-secret", "--event", str(tmp_path)]) == 0
    assert (tmp_path / "event.secret").stat().st_mode & 0o777 == 0o600


def test_passwords_command_shows_one_phone(tmp_path, capsys):
    from roles.event.__main__ import main

    directory = make(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n  - {name: saal2, extension: 1002}\n")
    assert main(["passwords", "--event", str(directory), "saal2"]) == 0
    out = capsys.readouterr().out
    assert load_directory(directory).accounts[1].password in out and "saal1" not in out


def test_the_pyinfra_message_lists_every_problem_on_its_own_line(tmp_path):
    with pytest.raises(EventError) as info:
        load_directory(
            make(tmp_path, "phones:\n  - {name: saal1, extension: 1001}\n  - {name: saal1, extension: 1001}\n")
        )
    lines = str(info.value).splitlines()
    assert lines[0] == f"the event directory {tmp_path} has 2 problems; nothing was deployed:"
    assert lines[1:] == [f"  - {p}" for p in info.value.problems]


def test_derived_passwords_are_the_same_as_before_the_speedup():
    """Changing them would change every phone's password: pinned to values derived with
    hmac.new(...).digest() and b32encode."""
    assert derive_password("s" * 40, "test-event", "saal1") == "c3cvjbnhmexiles36qybhp4x"
    assert derive_password("k" * 40, "e", "web/a1") == "ebloafv7fdixahdxef67r73w"


@pytest.mark.parametrize("length", [0, 1, 32, 63, 64, 65, 100, 200])
def test_derived_passwords_are_hmac_sha256_in_base32_for_any_secret_length(length):
    import hashlib
    import hmac
    from base64 import b32encode

    secret = ("abcdefghij" * 20)[:length]
    digest = hmac.new(secret.encode(), b"televoc/sip-password/ev/phone7", hashlib.sha256).digest()
    assert derive_password(secret, "ev", "phone7") == b32encode(digest).decode().lower()[:24]


def test_an_empty_password_field_means_derive_one(tmp_path):
    directory = load_directory(make(tmp_path, "phones:\n  - {name: saal1, extension: 1001, password: }\n"))
    assert len(directory.accounts[0].password) == 24


def test_a_provisioned_phone_without_pbx_address_names_the_phone_and_its_line(tmp_path):
    [p] = problems(
        tmp_path,
        "phones:\n  - {name: saal1, extension: 1001}\n  - {name: a1, extension: 11, mac: '000413000001', model: snom300}\n",
    )
    assert p == (
        f"{tmp_path}/event.yml: pbx_address: phone 2 (a1) has a mac (phones.yml line 3), so pbx_address is "
        "required, the address provisioned phones reach the PBX at: add it, e.g. pbx_address: 10.23.0.2"
    )
