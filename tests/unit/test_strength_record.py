"""The record of passwords judged strong (roles/event/strength_record.py): a check judges only
what is new, and the record can neither make a weak password pass nor help a guesser."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest

from roles.event import EventError, load_directory, strength, unique
from roles.event.strength_record import HEADER, StrengthRecord, record_path

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
SECRET = "s" * 40
STRONG = "Tk7-wQ3v-Lm9z-Rb2x"  # about 10^18 guesses
OTHER_STRONG = "Vq4-Hn8c-Pz2w-Kd6y"
WEAK = "correcthorsebattery"  # about 10^10 guesses


def phones(*entries: str) -> str:
    return "phones:\n" + "".join(f"  - {{{e}}}\n" for e in entries)


def make(tmp_path: Path, phones_yml: str, event: str = EVENT, secret: str | None = SECRET, mode: int = 0o600) -> Path:
    (tmp_path / "event.yml").write_text(event)
    (tmp_path / "phones.yml").write_text(phones_yml)
    if secret is not None:
        (tmp_path / "event.secret").write_text(secret + "\n")
        (tmp_path / "event.secret").chmod(mode)
    return tmp_path


@pytest.fixture
def judged(monkeypatch) -> list[str]:
    """The passwords handed to zxcvbn, in order, while the test runs."""
    seen: list[str] = []
    weakness = unique.weakness

    def counted(password, user_inputs):
        seen.append(password)
        return weakness(password, user_inputs)

    monkeypatch.setattr(unique, "weakness", counted)
    return seen


def refusals(directory: Path) -> list[str]:
    with pytest.raises(EventError) as info:
        load_directory(directory)
    return info.value.problems


def record_file() -> Path:
    return record_path("test-event")


def test_a_second_check_judges_no_password_judged_strong_before(tmp_path, judged):
    directory = make(
        tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}", "name: saal2, extension: 1002")
    )
    load_directory(directory)
    assert judged == [STRONG]
    load_directory(directory)
    assert judged == [STRONG]
    assert record_file().read_text().count("\n") == 2  # the header and saal1


def test_a_changed_password_is_judged_again_and_a_weak_one_refused(tmp_path, judged):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)
    make(tmp_path, phones(f"name: saal1, extension: 1001, password: {OTHER_STRONG}"))
    load_directory(directory)
    assert judged == [STRONG, OTHER_STRONG]
    make(tmp_path, phones(f"name: saal1, extension: 1001, password: {WEAK}"))
    [problem] = refusals(directory)
    assert "phone 1 (saal1): password: is too easy to guess" in problem
    assert judged == [STRONG, OTHER_STRONG, WEAK]


def test_a_password_strong_for_one_phone_is_judged_again_for_another(tmp_path, judged):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)
    make(tmp_path, phones(f"name: saal2, extension: 1002, password: {STRONG}"))
    load_directory(directory)
    assert judged == [STRONG, STRONG]


def test_a_new_display_name_that_the_password_is_made_of_refuses_it(tmp_path, judged):
    password = "Quemblwarzkopf2!"
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {password}"))
    load_directory(directory)
    make(tmp_path, phones(f"name: saal1, extension: 1001, display_name: Quemblwarzkopf, password: {password}"))
    [problem] = refusals(directory)
    assert "'Quemblwarzkopf' (the event's or the phone's own name, number or display name)" in problem
    assert judged == [password, password]


def test_a_higher_threshold_judges_again_and_refuses_what_it_let_through(tmp_path, judged, monkeypatch):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)
    monkeypatch.setattr(strength, "MIN_GUESSES_LOG10", 40)
    [problem] = refusals(directory)
    assert "password: is too easy to guess" in problem and "televoc asks for at least 10^40" in problem
    assert judged == [STRONG, STRONG]


def test_another_version_of_zxcvbn_judges_again(tmp_path, judged, monkeypatch):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)
    real = strength.metadata.version
    monkeypatch.setattr(strength.metadata, "version", lambda name: "4.5.1" if name == "zxcvbn" else real(name))
    load_directory(directory)
    assert judged == [STRONG, STRONG]


def test_another_secret_judges_again(tmp_path, judged):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)
    make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"), secret="t" * 40)
    load_directory(directory)
    assert judged == [STRONG, STRONG]


def test_a_weak_password_is_refused_in_the_same_words_with_a_record(tmp_path, judged):
    weak = f"name: saal2, extension: 1002, password: {WEAK}"
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}", weak))
    first = refusals(directory)
    second = refusals(directory)
    assert first == second and len(first) == 1 and "phone 2 (saal2): password: is too easy to guess" in first[0]
    # saal1 was judged strong in the first check, with saal2 refused: only saal2 is judged again
    assert judged == [STRONG, WEAK, WEAK]


def _mac(secret: str, password: str, inputs: list[str]) -> str:
    return StrengthRecord(secret, Path("unused"), frozenset()).mac(password, inputs).hex()


def test_a_tampered_record_cannot_make_a_weak_password_pass(tmp_path, judged):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {WEAK}"))
    inputs = ["saal1", "1001", "test-event"]
    forged = [
        _mac("t" * 40, WEAK, inputs),  # under another secret
        _mac(SECRET, OTHER_STRONG, inputs),  # the right key, another password
        _mac(SECRET, WEAK, ["saal2", "1002", "test-event"]),  # the right key, another phone
        hashlib.sha256(WEAK.encode()).hexdigest(),  # unkeyed
        hmac.new(SECRET.encode(), WEAK.encode(), hashlib.sha256).hexdigest(),  # the secret itself as key
    ]
    record_file().parent.mkdir(parents=True)
    record_file().write_text(HEADER + "\n" + "".join(f + "\n" for f in forged))
    [problem] = refusals(directory)
    assert "phone 1 (saal1): password: is too easy to guess" in problem
    assert judged == [WEAK]


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: "",
        lambda entry: f"televoc strength record 0\n{entry}\n",  # another format
        lambda entry: f"{HEADER}\n{entry}",  # the last line cut
        lambda entry: f"{HEADER}\n{entry.upper()}\n",  # not as written
        lambda entry: f"{HEADER}\n{entry[:32]} {entry[33:]}\n",  # a space bytes.fromhex would skip
        lambda entry: f"{HEADER}\n{entry}\n{entry[:62]}\n",  # a short line
        lambda entry: f"{HEADER}\n{entry}\n\udcff\n",  # not ASCII
    ],
)
def test_a_record_not_exactly_as_written_is_ignored_and_rewritten(tmp_path, judged, damage):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)
    entry = record_file().read_text().split("\n")[1]
    # the right entry in a record that is otherwise not as written: nothing of it is trusted
    record_file().write_bytes(damage(entry).encode("utf-8", "surrogateescape"))
    load_directory(directory)
    assert judged == [STRONG, STRONG]
    assert record_file().read_text() == f"{HEADER}\n{entry}\n"


def test_an_unreadable_record_is_ignored(tmp_path, judged):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    record_file().parent.mkdir(parents=True)
    record_file().mkdir()  # not a file
    load_directory(directory)
    load_directory(directory)
    assert judged == [STRONG, STRONG]


def test_the_record_holds_no_password_nor_an_unkeyed_hash(tmp_path):
    directory = make(
        tmp_path,
        phones(
            f"name: saal1, extension: 1001, password: {STRONG}",
            f"name: saal2, extension: 1002, display_name: Saal Zwei, password: {OTHER_STRONG}",
        ),
    )
    load_directory(directory)
    path = record_file()
    text = path.read_text()
    lines = text.split("\n")
    assert lines[0] == HEADER and lines[-1] == "" and len(lines) == 4
    assert all(len(line) == 64 and set(line) <= set("0123456789abcdef") for line in lines[1:-1])
    for password in (STRONG, OTHER_STRONG):
        assert password not in text and password.lower() not in text
        for salt in ("", "saal1", "saal2", "test-event"):
            for message in (password + salt, salt + password):
                for name in ("md5", "sha1", "sha256", "sha512", "blake2b", "sha3_256"):
                    digest = hashlib.new(name, message.encode()).hexdigest()
                    assert digest[:32] not in text, f"{name}({message!r}) is in the record"
    # the entries are MACs under the event secret: the same password under another secret differs
    assert _mac(SECRET, STRONG, ["saal1", "1001", "test-event"]) in lines
    assert _mac("t" * 40, STRONG, ["saal1", "1001", "test-event"]) not in lines
    # outside the event directory, private to its owner
    assert not path.is_relative_to(directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_record_is_in_the_xdg_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert record_path("test-event") == tmp_path / "xdg" / "televoc" / "test-event.strength"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert record_path("test-event") == tmp_path / "home" / ".cache" / "televoc" / "test-event.strength"


def test_without_a_private_secret_there_is_no_record_and_every_check_judges(tmp_path, judged):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"), secret=None)
    load_directory(directory)
    make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"), mode=0o644)
    load_directory(directory)  # not needed for this phone: its mode refuses it as the record's key only
    make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"), secret="short")
    load_directory(directory)
    assert judged == [STRONG, STRONG, STRONG]
    assert not record_file().exists()


def test_a_phone_removed_leaves_the_record_and_no_password_leaves_no_record(tmp_path, judged):
    both = phones(
        f"name: saal1, extension: 1001, password: {STRONG}", f"name: saal2, extension: 1002, password: {OTHER_STRONG}"
    )
    directory = make(tmp_path, both)
    load_directory(directory)
    make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)
    assert len(record_file().read_text().split("\n")) == 3
    make(tmp_path, phones("name: saal1, extension: 1001"))
    load_directory(directory)
    assert not record_file().exists()
    make(tmp_path, both)
    load_directory(directory)
    assert judged == [STRONG, OTHER_STRONG, STRONG, OTHER_STRONG]


def test_a_record_that_cannot_be_written_changes_nothing(tmp_path, judged):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    record_file().parent.write_text("a file where the record's directory belongs\n")
    assert load_directory(directory).accounts[0].password == STRONG
    assert load_directory(directory).accounts[0].password == STRONG
    assert judged == [STRONG, STRONG]


@pytest.mark.parametrize(
    "changed",
    [
        f"name: saal9, extension: 1001, password: {STRONG}",  # the phone's name
        f"name: saal1, extension: 1009, password: {STRONG}",  # its extension
        f"name: saal1, extension: 1001, display_name: Saal Eins, password: {STRONG}",  # its display name
    ],
)
def test_a_password_is_judged_again_when_what_zxcvbn_is_given_with_it_changes(tmp_path, judged, changed):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)
    make(tmp_path, phones(changed))
    load_directory(directory)
    load_directory(directory)
    assert judged == [STRONG, STRONG]


def test_a_weak_password_is_never_recorded(tmp_path, judged):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {WEAK}"))
    refusals(directory)
    assert not record_file().exists()
    make(
        tmp_path,
        phones(f"name: saal1, extension: 1001, password: {WEAK}", f"name: saal2, extension: 1002, password: {STRONG}"),
    )
    refusals(directory)
    text = record_file().read_text()
    assert _mac(SECRET, STRONG, ["saal2", "1002", "test-event"]) in text
    assert _mac(SECRET, WEAK, ["saal1", "1001", "test-event"]) not in text
    assert text.count("\n") == 2
    assert judged == [WEAK, WEAK, STRONG]


def test_a_refused_check_keeps_what_it_does_not_see_and_an_accepted_one_drops_it(tmp_path, judged):
    both = phones(
        f"name: saal1, extension: 1001, password: {STRONG}", f"name: saal2, extension: 1002, password: {OTHER_STRONG}"
    )
    directory = make(tmp_path, both)
    load_directory(directory)
    (tmp_path / "phones.yml").write_text("phones: [\n")  # cannot be read: nothing judged, nothing dropped
    refusals(directory)
    # saal2 removed while saal1's extension is taken twice: refused, saal2's entry stays
    make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}", "name: saal3, extension: 1001"))
    refusals(directory)
    assert record_file().read_text().count("\n") == 3
    make(tmp_path, both)
    load_directory(directory)
    assert judged == [STRONG, OTHER_STRONG]
    make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)  # accepted: saal2 leaves the record
    assert record_file().read_text() == f"{HEADER}\n{_mac(SECRET, STRONG, ['saal1', '1001', 'test-event'])}\n"
    assert judged == [STRONG, OTHER_STRONG]


def test_the_record_is_replaced_whole_by_a_private_file(tmp_path, judged):
    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    load_directory(directory)
    record_file().chmod(0o644)  # copied around, say
    make(tmp_path, phones(f"name: saal1, extension: 1001, password: {OTHER_STRONG}"))
    load_directory(directory)
    assert stat.S_IMODE(record_file().stat().st_mode) == 0o600
    assert [p.name for p in record_file().parent.iterdir()] == [record_file().name]  # no file left behind
    assert record_file().read_text() == f"{HEADER}\n{_mac(SECRET, OTHER_STRONG, ['saal1', '1001', 'test-event'])}\n"


def test_python_m_roles_event_check_judges_a_password_once(tmp_path, judged, capsys):
    from roles.event.__main__ import main

    directory = make(tmp_path, phones(f"name: saal1, extension: 1001, password: {STRONG}"))
    assert main(["check", "--event", str(directory)]) == 0
    assert main(["check", "--event", str(directory)]) == 0
    assert judged == [STRONG]
    assert capsys.readouterr().out.count(": OK") == 2
