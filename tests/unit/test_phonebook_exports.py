"""The directory's exports (JSON, CSV, vCard, Yealink's remote phone book) and the outside
numbers of event.yml: the same entries as the printed directory, in its order, each format
read back with a parser of its own (json, csv, vobject, ElementTree); outside numbers refused
with file, line, entry, field and fix. No host."""

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
import vobject

from roles.event.__main__ import main
from roles.event.model import Account, Directory, Event, Group, Member, OutsideNumber
from roles.event.phonebook import JSON_SCHEMA, entries, render_csv, render_json, render_vcard, render_yealink
from roles.snom.render import render_directory

from .eventdirs import assert_named, problems, write

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
PHONES = "phones:\n  - {name: a1, extension: 1001}\n"
TRUNK = "trunk:\n  registrar: 10.77.0.2\n  username: '6000'\n  block: 6000\n  secret_file: trunk.secret\n"


def phone(display_name, extension, location=None, in_directory=True):
    return Account(
        name=f"p{extension}",
        extension=extension,
        display_name=display_name,
        password="x" * 24,
        location=location,
        in_directory=in_directory,
    )


def book(*accounts, groups=(), outside=()):
    event = Event(name="test-event", network="10.23.0.0/24", outside_numbers=outside)
    return Directory(event=event, accounts=accounts, groups=groups)


def example():
    return book(
        phone("Saal 1", "1001", "Hall A, lectern"),
        phone("Ärzte & <Sanis>", "1002", "Erste Hilfe; Zelt"),
        phone("Secret", "1003", in_directory=False),
        groups=(
            Group(
                name="info",
                number="1100",
                display_name="Info Desk",
                short="Info",
                timeout=20,
                members=(Member(name="p1001"),),
            ),
        ),
        outside=(
            OutsideNumber(name="Venue reception", number="+49 30 1234567-0", location="Main entrance"),
            OutsideNumber(name="Taxi", number="030 202020", dial="0030202020"),
        ),
    )


def test_json_lists_the_printed_entries_with_the_documented_keys():
    directory = example()
    data = json.loads(render_json(directory))
    assert data["schema"] == JSON_SCHEMA == "televoc-phonebook/1" and data["event"] == "test-event"
    assert [e["name"] for e in data["entries"]] == [e.name for e in entries(directory)]
    assert all(list(e) == ["name", "number", "tel", "dial", "type", "location"] for e in data["entries"])
    by_name = {e["name"]: e for e in data["entries"]}
    assert "Secret" not in by_name
    assert by_name["Venue reception"] == {
        "name": "Venue reception",
        "number": "+49 30 1234567-0",
        "tel": "+493012345670",
        "dial": None,
        "type": "outside",
        "location": "Main entrance",
    }
    assert by_name["Taxi"]["dial"] == "0030202020" and by_name["Taxi"]["tel"] == "030202020"
    assert by_name["Info Desk"] == {
        "name": "Info Desk",
        "number": "1100",
        "tel": "1100",
        "dial": "1100",
        "type": "group",
        "location": None,
    }
    assert by_name["Ärzte & <Sanis>"]["location"] == "Erste Hilfe; Zelt"


def test_json_of_an_empty_directory_is_valid():
    assert json.loads(render_json(book())) == {"schema": JSON_SCHEMA, "event": "test-event", "entries": []}


def test_csv_lists_outside_numbers_as_written_and_guards_a_leading_plus():
    rows = list(csv.reader(io.StringIO(render_csv(example()))))
    assert ["Taxi", "030 202020", "outside", ""] in rows
    # a spreadsheet would take +49 ... for a formula: shown as text
    assert ["Venue reception", "'+49 30 1234567-0", "outside", "Main entrance"] in rows


def test_vcard_is_read_back_by_vobject_card_by_card():
    directory = example()
    text = render_vcard(directory)
    cards = list(vobject.readComponents(text))
    assert [c.fn.value for c in cards] == [e.name for e in entries(directory)]
    by_name = {c.fn.value: c for c in cards}
    assert by_name["Venue reception"].tel.value == "+493012345670"
    assert by_name["Venue reception"].note.value == "Main entrance"
    assert by_name["Saal 1"].note.value == "Hall A, lectern"  # the comma escaped and read back
    assert by_name["Ärzte & <Sanis>"].note.value == "Erste Hilfe; Zelt"
    assert by_name["Ärzte & <Sanis>"].n.value.family == "Ärzte & <Sanis>"
    assert by_name["Info Desk"].categories.value == ["group"]
    assert all(c.version.value == "3.0" and c.org.value == ["test-event"] for c in cards)
    assert len({c.uid.value for c in cards}) == len(cards)
    assert text.endswith("END:VCARD\r\n") and "\n" not in text.replace("\r\n", "")


def test_vcard_folds_long_lines_at_75_octets_without_splitting_a_character():
    location = "Ü" * 60  # 120 octets of UTF-8
    text = render_vcard(book(phone("Öffentlichkeitsarbeit Überall Ähnlich", "1001", location)))
    assert all(len(line.encode("utf-8")) <= 75 for line in text.split("\r\n"))
    card = next(vobject.readComponents(text))
    assert card.note.value == location and card.fn.value == "Öffentlichkeitsarbeit Überall Ähnlich"


def test_yealink_lists_what_a_phone_dials_with_names_escaped():
    root = ET.fromstring(render_yealink(example()))
    assert root.tag == "YealinkIPPhoneDirectory" and root.findtext("Title") == "test-event"
    rows = [(e.findtext("Name"), e.findtext("Telephone")) for e in root.findall("DirectoryEntry")]
    # the reception has no dial: no phone can call it, so it is not in a phone's directory
    assert rows == [("Ärzte & <Sanis>", "1002"), ("Info Desk", "1100"), ("Saal 1", "1001"), ("Taxi", "0030202020")]


def test_snoms_directory_lists_an_outside_number_with_what_the_phone_dials():
    root = ET.fromstring(render_directory(example()))
    rows = [(e.findtext("Name"), e.findtext("Telephone")) for e in root.findall("DirectoryEntry")]
    assert ("Taxi", "0030202020") in rows and all(name != "Venue reception" for name, _ in rows)


def test_every_format_stays_whole_at_10000_phones():
    accounts = [phone(f"Phone {i}", str(10000 + i), f"Hall {i % 7}") for i in range(10_000)]
    directory = book(*accounts)
    data = json.loads(render_json(directory))
    assert len(data["entries"]) == 10_000 and len({e["number"] for e in data["entries"]}) == 10_000
    assert len(render_json(directory).splitlines()) == 10_002  # one line per entry
    assert len(list(csv.reader(io.StringIO(render_csv(directory))))) == 10_001
    assert sum(1 for _ in vobject.readComponents(render_vcard(directory))) == 10_000
    assert len(ET.fromstring(render_yealink(directory)).findall("DirectoryEntry")) == 10_000


def test_the_directory_command_writes_the_formats_asked_for(tmp_path, capsys):
    (tmp_path / "e").mkdir()
    event = write(tmp_path / "e", EVENT + "outside_numbers:\n  - {name: Taxi, number: '030 202020'}\n", PHONES)
    out = tmp_path / "out"
    assert main(["directory", "--event", str(event), "--out", str(out), "--format", "json,vcard"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["directory.json", "directory.vcf"]
    assert capsys.readouterr().out == f"wrote {out}/directory.json and {out}/directory.vcf: 2 entries\n"
    with pytest.raises(SystemExit):
        main(["directory", "--event", str(event), "--format", "pdf"])
    assert "unknown format 'pdf': choose from html,csv,json,vcard,yealink" in capsys.readouterr().err


def test_outside_numbers_are_taken_as_written_or_refused_naming_line_entry_field_and_fix(tmp_path):
    event = EVENT + (
        "outside_numbers:\n"
        "  - name: Reception\n    number: +4930123\n"  # line 6
        "  - name: Brackets\n    number: '+49 (0)30 123'\n"  # line 8
        "  - name: Taxi\n    number: '030 202020'\n"  # line 10
        "  - name: Taxi again\n    number: '030-202020'\n    dial: '0030202020'\n"  # lines 12, 13
    )
    found = problems(write(tmp_path, event, PHONES))
    assert_named(
        found,
        [
            "event.yml:6: outside number 1 (Reception): number: YAML reads it as the number 4930123, but an outside "
            'number is printed as written: write it in quotes, e.g. number: "+49 30 1234567"',
            "event.yml:8: outside number 2 (Brackets): number: '+49 (0)30 123' does not fit: an outside number is "
            "digits, optionally after a '+'",
        ],
    )
    found = problems(
        write(tmp_path, event.replace("+4930123", "'+49 30 123'").replace("+49 (0)30 123", "+49 30 124"), PHONES)
    )
    assert_named(
        found,
        [
            "event.yml:12: outside number 4 (Taxi again): number: '030-202020' is also outside number 3 (Taxi), "
            "line 10: list each number once",
            "event.yml:13: outside number 4 (Taxi again): dial: the event has no trunk, so no phone of it can call "
            "out: delete dial",
        ],
    )


def test_an_outside_numbers_dial_starts_with_the_dial_out_prefix(tmp_path):
    event = EVENT + TRUNK + "outside_numbers:\n  - name: Taxi\n    number: '030 202020'\n    dial: '930202020'\n"
    found = problems(write(tmp_path, event, PHONES, files={"trunk.secret": ("trunk-pw-Qx7-Lm2\n", 0o600)}))
    assert_named(
        found,
        [
            "event.yml:12: outside number 1 (Taxi): dial: '930202020' does not start with the dial-out prefix '0' "
            "(trunk.dial_out_prefix)"
        ],
    )
