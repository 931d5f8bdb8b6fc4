"""The event's phone directory: entries sorted as a person looks a number up, as A4 HTML, CSV,
JSON, vCard 3.0 and Yealink's remote phone book XML, all from `entries()`, so every format lists
the same entries (phones, groups, announcements, paging groups, intercoms and conference rooms
with in_directory; outside numbers) in the same order. An entry is a name, a number, a type and
a location: a room's PIN has no place in it. Pure functions: the same
directory gives byte-identical output, in time linear in the entries."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from html import escape
from itertools import groupby

from .model import Directory
from .selfservice import Claim

OTHER = "#"  # the heading of names that start with no letter a-z; it comes after Z
# Letters NFKD leaves whole, sorted as the letters they look like.
_BASE_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"})
# Cells a spreadsheet would run as a formula; OWASP's list (tab and CR cannot reach a cell:
# the model refuses control characters in names and locations).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Entry:
    name: str  # the display name
    number: str  # as printed: an extension, a group's number, an outside number as written
    kind: str  # "phone", "group", "announcement", "paging", "intercom", "conference" or "outside" (event.yml)
    location: str | None = None
    dial: str | None = None  # what a phone of the event dials; None: an outside number no phone dials

    @property
    def tel(self) -> str:
        """The number without separators ('+49 30 1234-567' -> '+49301234567')."""
        return self.number if self.kind != "outside" else _SEPARATORS.sub("", self.number)


_SEPARATORS = re.compile(r"[ /-]")


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
    return (_initial(base) == OTHER, _natural(base), int(entry.tel.lstrip("+")), entry.number, entry.name, entry.kind)


def entries(directory: Directory, claims: Sequence[Claim] = ()) -> list[Entry]:
    """The phones, groups, announcements and services (services.yml) with in_directory set,
    the outside numbers of event.yml and the participants' `claims` to be listed
    (claimslist.listed_claims: phones too, without a location), in the printed order (sort_key)."""
    listed = [
        Entry(a.display_name, a.extension, "phone", a.location, a.extension)
        for a in directory.accounts
        if a.in_directory
    ]
    listed += [
        Entry(g.display_name, g.number, "group", g.location, g.number) for g in directory.groups if g.in_directory
    ]
    listed += [
        Entry(a.display_name, a.number, "announcement", None, a.number)
        for a in directory.announcements
        if a.in_directory
    ]
    s = directory.services
    services = (("paging", s.paging), ("intercom", s.intercoms), ("conference", s.conferences))
    listed += [
        Entry(x.display_name, x.number, kind, None, x.number)
        for kind, items in services
        for x in items
        if x.in_directory
    ]
    listed += [Entry(o.name, o.number, "outside", o.location, o.dial) for o in directory.event.outside_numbers]
    listed += [Entry(c.name or c.number, c.number, "phone", None, c.number) for c in claims]
    return sorted(listed, key=sort_key)


def for_phones(listed: list[Entry]) -> list[Entry]:
    """The entries a phone's own directory shows (snom, Yealink), each with the number the phone
    dials: an outside number only with its `dial`."""
    return [e if e.kind != "outside" else replace(e, number=e.dial) for e in listed if e.dial is not None]


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
.outside .name { font-style: italic; }
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


def render_html(directory: Directory, claims: Sequence[Claim] = ()) -> str:
    """The directory as one self-contained HTML page for A4 print: two columns, a heading per
    initial; groups in bold."""
    listed = entries(directory, claims)
    title = escape(f"Phone directory: {directory.event.name}")
    about = f"{len(listed)} entr{'y' if len(listed) == 1 else 'ies'}"
    if any(e.kind == "group" for e in listed):
        about += "; <b>bold</b>: a group (rings several phones)"
    if any(e.kind == "outside" for e in listed):
        about += "; <i>italic</i>: a number outside the event"
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


def render_csv(directory: Directory, claims: Sequence[Claim] = ()) -> str:
    """name,number,type,location: one row per entry, in the printed order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "number", "type", "location"])
    for e in entries(directory, claims):
        writer.writerow([_cell(e.name), _cell(e.number), e.kind, _cell(e.location)])
    return out.getvalue()


# The JSON export's schema (docs/routing.md, 'Exports'): keys are added within a version,
# never removed or changed in meaning; a change that breaks a reader gets a new version.
JSON_SCHEMA = "televoc-phonebook/1"


def render_json(directory: Directory, claims: Sequence[Claim] = ()) -> str:
    """{"schema", "event", "entries": [{name, number, tel, dial, type, location}, ...]}: every
    entry in the printed order, one per line (readable and diffable at 10,000 entries)."""
    rows = ",\n".join(
        "  "
        + json.dumps(
            {"name": e.name, "number": e.number, "tel": e.tel, "dial": e.dial, "type": e.kind, "location": e.location},
            ensure_ascii=False,
        )
        for e in entries(directory, claims)
    )
    head = json.dumps({"schema": JSON_SCHEMA, "event": directory.event.name}, ensure_ascii=False)[:-1]
    return f'{head}, "entries": [\n{rows}\n]}}\n' if rows else f'{head}, "entries": []}}\n'


def _vtext(value: str) -> str:
    """A vCard 3.0 text value (RFC 2426 5.2): backslash, comma, semicolon and line breaks escaped."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def _fold(line: str) -> str:
    """A content line folded after at most 75 octets (RFC 2425 5.8.1), never inside a UTF-8
    character; lines end with CRLF."""
    if len(line) <= 75 and line.isascii():
        return line + "\r\n"
    parts: list[str] = []
    size = start = 0
    for i, char in enumerate(line):
        width = len(char.encode("utf-8"))
        if size + width > (75 if not parts else 74):  # a continuation starts with a space
            parts.append(line[start:i])
            start, size = i, 0
        size += width
    parts.append(line[start:])
    return "\r\n ".join(parts) + "\r\n"


def render_vcard(directory: Directory, claims: Sequence[Claim] = ()) -> str:
    """Every entry as a vCard 3.0 (RFC 2426), in the printed order: FN and N the name, TEL the
    number without separators, ORG the event, CATEGORIES the type, NOTE the location; UID
    stable across runs (the event, the type and the number)."""
    event = directory.event.name
    org = _fold(f"ORG:{_vtext(event)}")
    cards = []
    for e in entries(directory, claims):
        name = _vtext(e.name)
        lines = [
            "BEGIN:VCARD\r\n",
            "VERSION:3.0\r\n",
            _fold(f"UID:urn:televoc:{_vtext(event)}:{e.kind}:{e.tel}"),
            _fold(f"FN:{name}"),
            _fold(f"N:{name};;;;"),
            org,
            f"TEL;TYPE=VOICE:{e.tel}\r\n",
            f"CATEGORIES:{e.kind}\r\n",
        ]
        if e.location:
            lines.append(_fold(f"NOTE:{_vtext(e.location)}"))
        lines.append("END:VCARD\r\n")
        cards.append("".join(lines))
    return "".join(cards)


def _xml(value: str) -> str:
    return escape(value, quote=False) if "&" in value or "<" in value or ">" in value else value


def render_yealink(directory: Directory, claims: Sequence[Claim] = (), listed: list[Entry] | None = None) -> str:
    """Yealink's remote phone book (`<YealinkIPPhoneDirectory>`, one `<DirectoryEntry>` with
    `<Name>` and `<Telephone>` each; Yealink's administrator guide, 'Remote Phone Book'): the
    entries a phone dials (`listed`, default for_phones(entries(directory))), in the printed order."""
    listed = for_phones(entries(directory, claims)) if listed is None else listed
    rows = "".join(
        f"  <DirectoryEntry><Name>{_xml(e.name)}</Name><Telephone>{_xml(e.number)}</Telephone></DirectoryEntry>\n"
        for e in listed
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<YealinkIPPhoneDirectory>\n  <Title>{_xml(directory.event.name)}</Title>\n{rows}</YealinkIPPhoneDirectory>\n"
    )


# Each format the directory command writes: file name -> renderer (docs/routing.md, 'Exports').
FORMATS = {
    "html": ("directory.html", render_html),
    "csv": ("directory.csv", render_csv),
    "json": ("directory.json", render_json),
    "vcard": ("directory.vcf", render_vcard),
    "yealink": ("directory-yealink.xml", render_yealink),
}
