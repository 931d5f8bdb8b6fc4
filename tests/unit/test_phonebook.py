"""The printable phone directory: order, headings, exclusion, escaping, CSV (no browser)."""

import csv
import io
import shutil
from pathlib import Path

from roles.event import create_secret
from roles.event.__main__ import main
from roles.event.model import Account, Directory, Event, Group, Member
from roles.event.phonebook import Entry, entries, render_csv, render_html, sections

EXAMPLE = Path(__file__).resolve().parents[2] / "group_data" / "event"


def phone(display_name, extension, location=None, in_directory=True):
    return Account(
        name=f"p{extension}",
        extension=extension,
        display_name=display_name,
        password="x" * 24,
        location=location,
        in_directory=in_directory,
    )


def group(display_name, number, location=None, in_directory=True):
    return Group(
        name=f"g{number}",
        number=number,
        display_name=display_name,
        short="G",
        timeout=20,
        members=(Member(name="p1001"),),
        location=location,
        in_directory=in_directory,
    )


def book(*accounts, groups=()):
    return Directory(event=Event(name="test-event", network="10.23.0.0/24"), accounts=accounts, groups=groups)


def names(directory):
    return [e.name for e in entries(directory)]


def test_entries_left_out_of_the_directory_are_not_listed():
    directory = book(
        phone("Saal 1", "1001"),
        phone("Secret", "1002", in_directory=False),
        groups=(group("Hidden group", "1100", in_directory=False), group("Info", "1101")),
    )
    assert names(directory) == ["Info", "Saal 1"]


def test_names_sort_ignoring_case_and_accents_with_umlauts_as_their_base_letter():
    directory = book(
        *(
            phone(n, str(1000 + i))
            for i, n in enumerate(
                [
                    "Zentrale",
                    "Öffentlichkeit",
                    "ober",
                    "Ärzte",
                    "alpha",
                    "Ørsted",
                    "Éclairage",
                    "Ebene",
                    "Bühne",
                    "Buch",
                ]
            )
        )
    )
    assert names(directory) == [
        "alpha",
        "Ärzte",
        "Buch",
        "Bühne",
        "Ebene",
        "Éclairage",
        "ober",
        "Öffentlichkeit",
        "Ørsted",
        "Zentrale",
    ]


def test_numbers_in_names_sort_in_natural_order():
    directory = book(phone("Saal 10", "1010"), phone("Saal 2", "1002"), phone("Saal 1", "1001"), phone("Saal", "1000"))
    assert names(directory) == ["Saal", "Saal 1", "Saal 2", "Saal 10"]


def test_equal_names_sort_by_number():
    directory = book(phone("Kasse", "1200"), phone("kasse", "300"), phone("Kasse", "1100"))
    assert [e.number for e in entries(directory)] == ["300", "1100", "1200"]


def test_each_initial_gets_a_heading_and_names_without_a_letter_come_last_under_hash():
    # Äpfel and apfel are the same name to the sort: the lower number first
    directory = book(
        phone("3D-Druck", "1001"),
        phone("Äpfel", "1002"),
        phone("@Social", "1003"),
        phone("apfel", "1004"),
        phone("Zelt", "1005"),
        phone("Übersetzung", "1006"),
    )
    assert [(letter, [e.name for e in group]) for letter, group in sections(entries(directory))] == [
        ("A", ["Äpfel", "apfel"]),
        ("U", ["Übersetzung"]),
        ("Z", ["Zelt"]),
        ("#", ["3D-Druck", "@Social"]),
    ]


def test_groups_are_listed_among_phones_as_groups():
    directory = book(phone("Zelt", "1001", location="Wiese"), groups=(group("Infodesk", "1100", location="Foyer"),))
    assert entries(directory) == [
        Entry("Infodesk", "1100", "group", "Foyer", "1100"),
        Entry("Zelt", "1001", "phone", "Wiese", "1001"),
    ]


def test_the_html_escapes_names_and_locations():
    html = render_html(book(phone("<b>Presse & Medien</b>", "1001", location="Kids' <Corner>")))
    assert "&lt;b&gt;Presse &amp; Medien&lt;/b&gt;" in html and "Kids&#x27; &lt;Corner&gt;" in html
    assert "<b>Presse" not in html


def test_the_html_is_self_contained_a4_two_columns_and_keeps_entries_and_headings_together():
    html = render_html(book(phone("Saal 1", "1001")))
    assert "@page { size: A4; margin:" in html and "columns: 2;" in html
    assert "break-inside: avoid" in html and "break-after: avoid" in html
    assert not any(s in html for s in ("http:", "https:", "src=", "<link", "@import", "url("))
    assert "<title>Phone directory: test-event</title>" in html and "1 entry<" in html


def test_the_same_directory_gives_byte_identical_files():
    def directory():
        return book(phone("Saal 1", "1001"), phone("Bühne", "1002", location="Halle 2"))

    assert render_html(directory()) == render_html(directory())
    assert render_csv(directory()) == render_csv(directory())


def test_the_csv_has_a_header_and_the_printed_order():
    directory = book(
        phone("Saal 10", "1010", location="Halle 1, oben"), phone("Saal 2", "1002"), groups=(group("Bühne", "1100"),)
    )
    assert render_csv(directory) == (
        'name,number,type,location\nBühne,1100,group,\nSaal 2,1002,phone,\nSaal 10,1010,phone,"Halle 1, oben"\n'
    )


def test_the_csv_guards_cells_that_a_spreadsheet_would_run_as_a_formula():
    directory = book(
        phone("=HYPERLINK(1)", "1001", location="+49 30"),
        phone("-Kasse", "1002", location="@home"),
        phone("Kasse = Geld", "1003"),
    )
    rows = list(csv.reader(io.StringIO(render_csv(directory))))
    assert rows[1:] == [
        ["Kasse = Geld", "1003", "phone", ""],
        ["'-Kasse", "1002", "phone", "'@home"],
        ["'=HYPERLINK(1)", "1001", "phone", "'+49 30"],
    ]


def test_the_directory_command_writes_every_format_into_reports_and_says_so(tmp_path, monkeypatch, capsys):
    event = tmp_path / "event"
    shutil.copytree(EXAMPLE, event)
    (event / "groups.yml").write_text(
        "groups:\n  - name: infodesk\n    number: 1100\n    display_name: Info Desk\n    members: [saal1]\n"
        "    location: Foyer\n"
    )
    (event / "phones.yml").write_text(
        "phones:\n  - {name: saal1, extension: 1001, display_name: Saal 1}\n"
        "  - {name: saal2, extension: 1002, display_name: Saal 2, location: 'Halle B, Pult'}\n"
        "  - {name: backoffice, extension: 1600, display_name: Backoffice, in_directory: false}\n"
    )
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(tmp_path / "event.secret"))
    create_secret(tmp_path / "event.secret")
    monkeypatch.chdir(tmp_path)

    assert main(["directory", "--event", "event"]) == 0
    assert capsys.readouterr().out == (
        "wrote reports/directory.html, reports/directory.csv, reports/directory.json, reports/directory.vcf "
        "and reports/directory-yealink.xml: 3 entries\n"
    )
    assert (tmp_path / "reports" / "directory.csv").read_text() == (
        'name,number,type,location\nInfo Desk,1100,group,Foyer\nSaal 1,1001,phone,\nSaal 2,1002,phone,"Halle B, Pult"\n'
    )
    assert "Info Desk" in (tmp_path / "reports" / "directory.html").read_text(encoding="utf-8")
