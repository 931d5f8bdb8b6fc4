"""The event's printable phone directory: entries sorted as a person looks a number up, as
A4 HTML and as CSV. Pure functions: the same directory gives byte-identical output."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from html import escape
from itertools import groupby

from .model import Directory

OTHER = "#"  # the heading of names that start with no letter a-z; it comes after Z
# Letters NFKD leaves whole, sorted as the letters they look like.
_BASE_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"})
# Cells a spreadsheet would run as a formula; OWASP's list (tab and CR cannot reach a cell:
# the model refuses control characters in names and locations).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Entry:
    name: str  # the display name
    number: str
    kind: str  # "phone" or "group"
    location: str | None = None


def _base(text: str) -> str:
    """'Ärzte-Büro' -> 'arzte-buro': case and accents dropped."""
    folded = text.strip().casefold()
    if folded.isascii():  # most names: nothing to decompose
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_BASE_LETTERS)


def _initial(base: str) -> str:
    first = base[:1]
    return first.upper() if "a" <= first <= "z" else OTHER


def heading(entry: Entry) -> str:
    """The entry's initial A-Z, or '#'."""
    return _initial(_base(entry.name))


_DIGIT_RUNS = re.compile(r"(\d+)")


def _natural(text: str) -> tuple:
    """'saal 10' -> ('saal ', 10, ''): digit runs compare as numbers ('Saal 2' before 'Saal 10')."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGIT_RUNS.split(text)))


def sort_key(entry: Entry) -> tuple:
    """'#' last, then by name (case, accents, numbers as above), ties by number."""
    base = _base(entry.name)
    return (_initial(base) == OTHER, _natural(base), int(entry.number), entry.number, entry.name, entry.kind)


def entries(directory: Directory) -> list[Entry]:
    """The phones and groups with in_directory set, in the printed order (sort_key)."""
    listed = [Entry(a.display_name, a.extension, "phone", a.location) for a in directory.accounts if a.in_directory]
    listed += [Entry(g.display_name, g.number, "group", g.location) for g in directory.groups if g.in_directory]
    return sorted(listed, key=sort_key)


def sections(listed: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """(heading, entries) per initial, for sorted entries."""
    return [(letter, list(group)) for letter, group in groupby(listed, key=heading)]


# Sizes the print test's entries-per-page bounds were measured with: change them, measure again.
CSS = """\
@page { size: A4; margin: 12mm 12mm 14mm; }
* { box-sizing: border-box; }
body { margin: 0; font: 9pt/11pt "DejaVu Sans", sans-serif; color: #000; }
h1 { margin: 0; font-size: 16pt; line-height: 20pt; }
.about { margin: 0 0 4mm; color: #444; }
.book { columns: 2; column-gap: 8mm; }
h2 { margin: 6pt 0 1pt; font-size: 11pt; line-height: 14pt; border-bottom: 0.5pt solid #000;
     break-after: avoid; }
.e { margin: 0; break-inside: avoid; overflow-wrap: anywhere; }
.line { display: flex; align-items: last baseline; }
.group .name { font-weight: bold; }
.dots { flex: 1 0 4mm; margin: 0 1mm; border-bottom: 0.8pt dotted #777; }
.number { flex: none; font-variant-numeric: tabular-nums; }
.where { display: block; padding-left: 3mm; font-size: 7.5pt; line-height: 9pt; color: #444; }
"""


def _entry_html(entry: Entry) -> str:
    where = f'<span class="where">{escape(entry.location)}</span>' if entry.location else ""
    return (
        f'<p class="e {entry.kind}"><span class="line"><span class="name">{escape(entry.name)}</span>'
        f'<span class="dots"></span><span class="number">{entry.number}</span></span>{where}</p>'
    )


def render_html(directory: Directory) -> str:
    """The directory as one self-contained HTML page for A4 print: two columns, a heading per
    initial; groups in bold."""
    listed = entries(directory)
    title = escape(f"Phone directory: {directory.event.name}")
    about = f"{len(listed)} entr{'y' if len(listed) == 1 else 'ies'}"
    if any(e.kind == "group" for e in listed):
        about += "; <b>bold</b>: a group (rings several phones)"
    body = "\n".join(
        f"<h2>{letter}</h2>\n" + "\n".join(_entry_html(e) for e in group) for letter, group in sections(listed)
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>\n{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        f'<p class="about">{about}</p>\n'
        f'<div class="book">\n{body}\n</div>\n</body>\n</html>\n'
    )


def _cell(value: str | None) -> str:
    """A cell starting with = + - @ gets a leading apostrophe: a spreadsheet then shows it as
    text instead of running it as a formula (CSV injection)."""
    value = value or ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def render_csv(directory: Directory) -> str:
    """name,number,type,location: one row per entry, in the printed order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "number", "type", "location"])
    for e in entries(directory):
        writer.writerow([_cell(e.name), _cell(e.number), e.kind, _cell(e.location)])
    return out.getvalue()
