"""Participants' claims in the phone directory: the CSV the PBX exports read back
(roles/event/claimslist.py), refused whole with every problem (file, line, field, fix), and
the listed claims in every format. No host."""

import csv
import io
import json
from pathlib import Path

import pytest

from roles.event.__main__ import main
from roles.event.claimslist import _NAME, COLUMNS, listed_claims
from roles.event.errors import EventError
from roles.event.model import Account, Directory, Event
from roles.event.phonebook import entries, render_csv, render_json, render_vcard, render_yealink
from roles.selfservice.files.claimsdb import EXPORT_COLUMNS, NAME_RE

from .eventdirs import write

NOW = "2026-12-27T15:00:00Z"
HEADER = ",".join(COLUMNS)


def book() -> Directory:
    crew = Account(name="bar", extension="1001", display_name="Bar", password="x" * 24, location="Hall")
    return Directory(event=Event(name="test-event", network="10.23.0.0/24"), accounts=(crew,))


def claims_file(tmp_path: Path, *rows: str, name: str = "pbx-claims.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_the_columns_are_the_ones_the_pbx_exports():
    assert COLUMNS == EXPORT_COLUMNS
    assert _NAME.pattern == NAME_RE.pattern  # a name the PBX's command accepts, no other


def test_only_claims_their_participants_want_listed_and_not_expired(tmp_path):
    path = claims_file(
        tmp_path,
        "2345,Alice,1,softphone,2026-12-27T14:02:00Z,",
        "2346,Bob,0,snom,2026-12-27T14:03:00Z,",  # not listed: the participant's choice
        "2347,Carol,1,other,2026-12-20T10:00:00Z,2026-12-27T10:00:00Z",  # expired at NOW
        "2348,Dave,1,snom,2026-12-27T14:04:00Z,2026-12-30T14:04:00Z",
    )
    listed = listed_claims([path], book(), NOW)
    assert [(c.number, c.name) for c in listed] == [("2345", "Alice"), ("2348", "Dave")]


def test_every_problem_of_every_file_at_once_with_line_field_and_fix(tmp_path):
    bad = claims_file(
        tmp_path,
        "23a5,Alice,1,softphone,2026-12-27T14:02:00Z,",
        'x,"Eve <e>",2,snom,yesterday,soon',
        "1001,Mallory,1,snom,2026-12-27T14:02:00Z,",  # the crew's phone bar
        "2345,Alice again,1,snom,2026-12-27T14:02:00Z,",
        "2345,Twice,1,snom,2026-12-27T14:02:00Z,",
        "2399,short",
    )
    other = tmp_path / "other.csv"
    other.write_text("number,name\n2345,Alice\n")
    with pytest.raises(EventError) as e:
        listed_claims([bad, other, tmp_path / "missing.csv"], book(), NOW)
    text = "\n".join(e.value.problems)
    assert f"{bad}:2: claim '23a5': number: '23a5' is not a number of digits" in text
    for field in ("number: 'x'", "display_name: 'Eve <e>'", "in_directory: '2'", "created: 'yesterday'"):
        assert f"{bad}:3: claim 'x': {field}" in text, text
    assert "expires: 'soon'" in text
    assert f"{bad}:4: claim '1001': number: is phone bar in the event directory now" in text
    assert f"{bad}:6: claim '2345': number: also claimed at {bad}:5" in text
    assert f"{bad}:7: 2 fields, not 6" in text
    assert f"{other}:1: the header is 'number,name'" in text
    assert f"{tmp_path / 'missing.csv'}: cannot be read" in text
    assert all("export the claims again (./televoc claims INVENTORY)" in p for p in e.value.problems)
    assert len(e.value.problems) == 11, text


def test_listed_claims_are_phones_in_every_format(tmp_path):
    listed = listed_claims([claims_file(tmp_path, "2345,Alice,1,softphone,2026-12-27T14:02:00Z,")], book(), NOW)
    directory = book()
    assert [(e.name, e.number, e.kind) for e in entries(directory, listed)] == [
        ("Alice", "2345", "phone"),
        ("Bar", "1001", "phone"),
    ]
    assert ["Alice", "2345", "phone", ""] in list(csv.reader(io.StringIO(render_csv(directory, listed))))
    rows = json.loads(render_json(directory, listed))["entries"]
    assert {"name": "Alice", "number": "2345", "tel": "2345", "dial": "2345", "type": "phone", "location": None} in rows
    assert "FN:Alice" in render_vcard(directory, listed)
    assert "<Name>Alice</Name><Telephone>2345</Telephone>" in render_yealink(directory, listed)
    assert "Alice" not in render_csv(directory)  # without claims: the crew's directory alone


def test_the_directory_command_adds_the_claims_or_writes_nothing(tmp_path, capsys):
    (tmp_path / "event").mkdir()
    event = write(
        tmp_path / "event",
        "name: t\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n",
        "phones:\n  - {name: a1, extension: 1001}\n",
    )
    good = claims_file(tmp_path, "2345,Alice,1,softphone,2026-12-27T14:02:00Z,")
    out = tmp_path / "out"
    assert main(["directory", "--event", str(event), "--out", str(out), "--format", "csv", "--claims", str(good)]) == 0
    assert "Alice,2345,phone," in (out / "directory.csv").read_text()
    assert "2 entries (1 of them participants' claims)" in capsys.readouterr().out
    bad = claims_file(tmp_path, "1001,Alice,1,softphone,2026-12-27T14:02:00Z,", name="bad.csv")
    out2 = tmp_path / "out2"
    assert main(["directory", "--event", str(event), "--out", str(out2), "--claims", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "the claims are refused (1 problem); nothing was written" in err
    assert "is phone a1 in the event directory now" in err
    assert not out2.exists()
