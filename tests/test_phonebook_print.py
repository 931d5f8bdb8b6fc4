"""The printed phone directory, as real headless Chromium prints it to PDF (Debian's chromium;
pdfinfo and pdftotext from poppler-utils read the PDF back)."""

import math
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from roles.event import create_secret
from roles.event.__main__ import main

pytestmark = pytest.mark.print

EXAMPLE = Path(__file__).resolve().parents[1] / "group_data" / "event"
INSTALL = "apt-get install -y chromium poppler-utils fonts-dejavu-core"

# Entries one A4 page holds, with phonebook.CSS as it is. Measured once with measure_bounds()
# below (run: .venv/bin/python -m tests.test_phonebook_print), matching the CSS arithmetic:
# - most: 600 one-line names under one heading, no location: 138 on every full page (the page
#   is 271 mm = 768 pt high, 69 lines of 11 pt in each of 2 columns).
# - fewest: 27 to 540 entries of 40 wide letters (two lines of 11 pt) with 60 wide letters of
#   location (two lines of 9 pt), under every heading A-Z and #: 22 on the first page (the
#   title, 27 headings and 40 pt entries), 36 on later full pages (the last page is not full).
# Change the CSS: measure again.
MAX_PER_PAGE = 138
MIN_PER_PAGE = 22

# Each column of the page, (x, width) in PDF points (A4 is 595 x 842): the page margins are
# 12 mm (34 pt), the columns 89 mm (252 pt) with 8 mm between them; cut in the middle of the gap.
COLUMNS = ((0, 298), (298, 297))
HEADING = re.compile(r"[A-Z#]")

WORDS = [
    "Akkreditierung",
    "Bühne",
    "Catering",
    "Dolmetscher",
    "Einlass",
    "Foyer",
    "Garderobe",
    "Hausmeister",
    "Infostand",
    "Jugendbereich",
    "Kasse",
    "Lager",
    "Medizinischer Dienst",
    "Notausgang Nord",
    "Öffentlichkeitsarbeit",
    "Presse & Medien",
    "Quartier",
    "Regie",
    "Sicherheit",
    "Technik",
    "Übersetzung",
    "Verpflegung",
    "Werkstatt",
    "Xylophon-Ensemble",
    "Yoga-Raum",
    "Zentrale",
    "3D-Druck",
    "Kids' Corner",
    "Ärzte",
    "éclairage",
    "@Social Media",
]
LONG = " – Österreichische Delegation Hauptbühne"  # appended, cut to 40 characters


def _run(args: list[str], timeout: int = 120) -> str:
    if shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} is missing: install it with `{INSTALL}` (the ./televoc script does)")
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=timeout).stdout


def event(tmp_path: Path, monkeypatch, phones: list[dict], groups: list[dict] = ()) -> Path:
    """A copy of the example event with these phones and groups (and no others)."""
    directory = tmp_path / "event"
    shutil.copytree(EXAMPLE, directory)
    (directory / "groups.yml").unlink(missing_ok=True)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(tmp_path / "event.secret"))
    create_secret(tmp_path / "event.secret")
    for key, items in (("phones", phones), ("groups", groups)):
        if items:
            (directory / f"{key}.yml").write_text(yaml.safe_dump({key: items}, allow_unicode=True, sort_keys=False))
    return directory


def mixed(count: int) -> tuple[list[dict], list[dict]]:
    """count listed entries (a group in 25) plus two phones left out of the directory: long
    names, umlauts, accents, names without a letter first, locations on most. Numbers 20000 up,
    the digits in names and locations stay below that (numbers are counted in the PDF text)."""
    phones, groups = [], []
    for i in range(count):
        name = f"{WORDS[i % len(WORDS)]} {i // len(WORDS) + 1}"
        if i % 4 == 1:
            name = (name + LONG)[:40].rstrip()
        entry = {"display_name": name}
        if i % 3:
            entry["location"] = (
                f"Halle {i % 7}, Raum {i}"
                if i % 3 == 1
                else f"Congress Center, Ebene {i % 4}, Raum {i}, neben dem Foyer"
            )
        if i % 25 == 24:
            groups.append({"name": f"g{i}", "number": 30000 + i, **entry, "members": ["p0"]})
        else:
            phones.append({"name": f"p{i}", "extension": 20000 + i, **entry})
    phones += [
        {"name": f"hidden{i}", "extension": 40000 + i, "display_name": "Hidden", "in_directory": False}
        for i in range(2)
    ]
    return phones, groups


def print_pdf(html: Path, tmp_path: Path) -> Path:
    """Chromium's own print of the page (as Ctrl-P would, without header and footer)."""
    pdf = tmp_path / "directory.pdf"
    _run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={tmp_path / 'chromium'}",
            f"--print-to-pdf={pdf}",
            html.as_uri(),
        ]
    )
    return pdf


def read_pdf(pdf: Path) -> tuple[list[str], list[list[list[str]]]]:
    """(text of each page, [lines of each column] of each page), by pdftotext -layout."""
    pages = int(re.search(r"^Pages:\s+(\d+)", _run(["pdfinfo", str(pdf)]), re.M).group(1))
    texts, columns = [], []
    for n in range(1, pages + 1):
        page = ["pdftotext", "-layout", "-f", str(n), "-l", str(n)]
        texts.append(_run(page + [str(pdf), "-"]))
        crops = [_run(page + ["-x", str(x), "-y", "0", "-W", str(w), "-H", "842", str(pdf), "-"]) for x, w in COLUMNS]
        columns.append([[line.strip() for line in crop.splitlines() if line.strip()] for crop in crops])
    return texts, columns


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def printed(tmp_path, monkeypatch, phones, groups=()):
    directory = event(tmp_path, monkeypatch, phones, groups)
    assert main(["directory", "--event", str(directory), "--out", str(tmp_path / "out")]) == 0
    return read_pdf(print_pdf(tmp_path / "out" / "directory.html", tmp_path))


@pytest.mark.parametrize("count", [12, 150, 1200])
def test_the_printed_directory_lists_every_entry_once_and_whole_on_a_fitting_number_of_pages(
    count, tmp_path, monkeypatch
):
    phones, groups = mixed(count)
    texts, columns = printed(tmp_path, monkeypatch, phones, groups)
    listed = [
        (p["display_name"], str(p["extension"]), p.get("location", "")) for p in phones if p.get("in_directory", True)
    ]
    listed += [(g["display_name"], str(g["number"]), g.get("location", "")) for g in groups]
    assert len(listed) == count

    assert math.ceil(count / MAX_PER_PAGE) <= len(texts) <= math.ceil(count / MIN_PER_PAGE)
    found = Counter(n for text in texts for n in re.findall(r"\d+", text))
    assert [number for _, number, _ in listed if found[number] != 1] == []
    assert found["40000"] == found["40001"] == 0  # in_directory: false
    for name, number, location in listed:
        # in the one column that has the number: the name (wrapped or not) ends on its line, the
        # location follows
        [column] = [c for page in columns for c in page if number in re.findall(r"\d+", "\n".join(c))]
        assert _squeeze(name + number + location) in _squeeze("\n".join(column))
    for page in columns:
        for column in page:
            assert not (column and HEADING.fullmatch(column[-1])), f"a heading ends a column: {column[-3:]}"


def test_a_missing_chromium_fails_with_the_command_that_installs_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match=re.escape(INSTALL)):
        _run(["chromium", "--version"])


def measure_bounds(tmp_path: Path) -> tuple[int, int]:
    """(most, fewest) entries on a full page for the extreme inputs that MAX_PER_PAGE and
    MIN_PER_PAGE describe."""
    monkeypatch = pytest.MonkeyPatch()

    def per_page(phones, case):
        texts, _ = printed(tmp_path / case, monkeypatch, phones)
        return [sum(1 for n in re.findall(r"\d+", t) if len(n) == 5) for t in texts]

    short = per_page(
        [{"name": f"p{i}", "extension": 20000 + i, "display_name": f"Aa {i}"} for i in range(600)], "short"
    )
    fewest = []
    for count in (27, 54, 81, 135, 270, 540):
        initials = "ABCDEFGHIJKLMNOPQRSTUVWXYZ1"  # 1: the heading #
        wide = [
            {"name": f"p{i}", "extension": 20000 + i, "display_name": initials[i % 27] + "W" * 39, "location": "W" * 60}
            for i in range(count)
        ]
        fewest += per_page(wide, f"wide{count}")[:-1]
    monkeypatch.undo()
    return max(short), min(fewest)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print("most, fewest entries per page:", measure_bounds(Path(tmp)))
