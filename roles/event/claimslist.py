"""Participants' claims for the phone directory: the CSV the PBX exports (`./televoc claims
INVENTORY`, or a teardown's `reports/<host>-claims.csv`) read back, checked, and reduced to the
claims their participants wanted listed. Pure but for reading the files.

    listed = listed_claims([Path("reports/pbx-claims.csv")], directory, now="2026-12-27T14:02:00Z")
    phonebook.entries(directory, listed)

Every problem of every file at once (EventError), each with the file, the line, the field and
the fix, like the event directory's own problems: a claim file is refused whole rather than
printed in part."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path

from .errors import EventError
from .model import Directory
from .selfservice import Claim

# The columns of `televoc-claims export` (roles/selfservice/files/claimsdb.py EXPORT_COLUMNS),
# in their order: a file with other columns is not an export of this televoc.
COLUMNS = ("number", "display_name", "in_directory", "kind", "created", "expires")
_NUMBER = re.compile(r"^[0-9]{1,15}$")
# What the PBX's command accepts as a name (claimsdb.NAME_RE): printable, no quotes or <>.
_NAME = re.compile(r"^[^\x00-\x1f\x7f\"<>\\]{1,40}$")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FIX = "export the claims again (./televoc claims INVENTORY) rather than editing the file"


def listed_claims(paths: Iterable[Path], directory: Directory, now: str) -> tuple[Claim, ...]:
    """The claims of `paths` that are listed in the directory (in_directory 1) and not expired
    at `now` (UTC, ISO 8601 as the database writes it), by number. Refused (EventError, every
    problem): a file that is missing or not an export, a row with a bad field, a number held
    twice, a number that is a crew phone's, group's or service's."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    listed: list[Claim] = []
    crew = {a.extension: f"phone {a.name}" for a in directory.accounts}
    crew.update({g.number: f"group {g.name}" for g in directory.groups})
    s = directory.services
    for kind, items in (("paging group", s.paging), ("intercom", s.intercoms), ("conference room", s.conferences)):
        crew.update({x.number: f"{kind} {x.name}" for x in items})
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"{path}: cannot be read ({e.__class__.__name__}: {e}): {FIX}")
            continue
        rows = list(csv.reader(text.splitlines()))
        if not rows or tuple(rows[0]) != COLUMNS:
            found = ",".join(rows[0]) if rows else "nothing"
            problems.append(f"{path}:1: the header is {found!r}, not {','.join(COLUMNS)!r}: {FIX}")
            continue
        for line, row in enumerate(rows[1:], start=2):
            where = f"{path}:{line}"
            if len(row) != len(COLUMNS):
                problems.append(f"{where}: {len(row)} fields, not {len(COLUMNS)}: {FIX}")
                continue
            claim = dict(zip(COLUMNS, row, strict=True))
            bad = _row_problems(claim)
            if bad:
                problems += [f"{where}: claim {claim['number']!r}: {b}: {FIX}" for b in bad]
                continue
            number = claim["number"]
            if number in seen:
                problems.append(f"{where}: claim {number!r}: number: also claimed at {seen[number]}: {FIX}")
                continue
            seen[number] = where
            if number in crew:
                problems.append(
                    f"{where}: claim {number!r}: number: is {crew[number]} in the event directory now: "
                    "a deploy refuses this (the crew number or the claim has to go); " + FIX
                )
                continue
            expired = claim["expires"] and claim["expires"] <= now
            if claim["in_directory"] == "1" and not expired:
                listed.append(Claim(number=number, name=claim["display_name"], since=claim["created"]))
    if problems:
        raise EventError(problems)
    return tuple(sorted(listed, key=lambda c: c.number))


def _row_problems(claim: dict[str, str]) -> list[str]:
    problems = []
    if not _NUMBER.match(claim["number"]):
        problems.append(f"number: {claim['number']!r} is not a number of digits")
    if not _NAME.match(claim["display_name"]):
        problems.append(
            f"display_name: {claim['display_name']!r} is not 1 to 40 printable characters without quotes, < or >"
        )
    if claim["in_directory"] not in ("0", "1"):
        problems.append(f"in_directory: {claim['in_directory']!r} is neither 0 nor 1")
    if not _TIME.match(claim["created"]):
        problems.append(f"created: {claim['created']!r} is not a time like 2026-12-27T14:02:00Z")
    if claim["expires"] and not _TIME.match(claim["expires"]):
        problems.append(f"expires: {claim['expires']!r} is neither empty nor a time like 2026-12-27T14:02:00Z")
    return problems
