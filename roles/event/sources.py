"""The files of an event directory, read strictly, and where each problem is.

Every problem is reported at once, in file order and line order, one line each:
`<file>:<line>: <entry>: <field>: <the rule in words>: <the fix>`, e.g.

    group_data/event/phones.yml:8: phone 2 (saal2): extension: '1001' is already used by
        phone 1 (saal1), line 4: give each phone its own extension

Entries are counted from 1 and named. The YAML is read strictly (yamlload.py): a value YAML 1.1
would read as something else than its text is refused, with the hint to quote it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from . import yamlload
from .messages import explain, shown

EVENT_FILE = "event.yml"
PHONES_FILE = "phones.yml"
GROUPS_FILE = "groups.yml"  # optional
DECT_FILE = "dect.yml"  # optional: the DECT base stations
SERVICES_FILE = "services.yml"  # optional: paging groups, intercoms, conference rooms
# The order of each file's problems in the report; the secrets' come after the files'.
EVENT_ORDER, PHONES_ORDER, GROUPS_ORDER, DECT_ORDER, SERVICES_ORDER, SECRET_ORDER = 0, 1, 2, 3, 4, 5
# What one entry of a list is called in a problem, when it is not the list's name less its 's'.
ENTRY_WORDS = {
    "paging": "paging group",
    "intercom": "intercom",
    "conferences": "conference room",
    "outside_numbers": "outside number",
}
DOCS = "see docs/event.md"
# The lists whose entries a problem names ('phone 3 (saal2)', 'announcement 1 (programme)').
_LISTS = ("phones", "groups", "bases", "outside_numbers", "announcements")


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class Report:
    """Problems of the whole directory, in file order and line order when listed."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, int, str]] = []

    def add(self, order: int, line: int | None, text: str) -> None:
        self._items.append((order, line or 0, len(self._items), text))

    def __bool__(self) -> bool:
        return bool(self._items)

    def problems(self) -> list[str]:
        return [text for *_, text in sorted(self._items)]


class SourceFile:
    """One YAML file of the directory: reads it strictly and words its problems."""

    def __init__(self, path: Path, order: int, report: Report):
        self.path, self.order, self.report = path, order, report
        self.name = display(path)
        self.doc: yamlload.Document | None = None

    @property
    def data(self) -> Any:
        return None if self.doc is None else self.doc.data

    def read(self) -> Any:
        """The file's values (a mapping), or None with the problem reported."""
        if not self.path.is_file():
            self.report.add(self.order, None, f"{self.name}: the file is missing: create it (see docs/event.md)")
            return None
        raw = self.path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            self.add_at(line, f"is not UTF-8 text (byte 0x{raw[e.start]:02x}): save it as UTF-8")
            return None
        try:
            self.doc = yamlload.load(text)
        except yamlload.YamlSyntaxError as e:
            lines = text.splitlines()
            hint = "fix the syntax there"
            if e.line is not None and 0 < e.line <= len(lines) and "\t" in lines[e.line - 1]:
                hint = "indent with spaces, not tabs"
            elif "alias" in e.problem and e.line is not None and 0 < e.line <= len(lines):
                star = lines[e.line - 1].split(":", 1)[-1].strip()
                if star.startswith("*"):  # pickup_code: *8, claim_code: *23
                    hint = f"a value that begins with '*' is a YAML alias: write it in quotes, \"{star}\""
            column = f" (column {e.column})" if e.column else ""
            self.add_at(e.line, f"malformed YAML{column}: {e.problem}: {hint}")
            return None
        for problem in self.doc.problems:
            self.add(problem.path, problem.text, line=problem.line)
        if not isinstance(self.doc.data, dict):
            what = "is empty" if self.doc.data is None else f"holds {shown(self.doc.data)}"
            self.add_at(1, f"{what}, but it must be a mapping of keys (see docs/event.md)")
            return None
        return self.doc.data

    def add_at(self, line: int | None, text: str) -> None:
        where = f"{self.name}:{line}" if line else self.name
        self.report.add(self.order, line, f"{where}: {text}")

    def label(self, path: tuple) -> tuple[str | None, str | None]:
        """(entry, field) for a path into this file's data: ('phone 3 (saal2)', 'extension'),
        ('sip', 'port'), (None, 'name')."""
        if len(path) >= 2 and path[0] in (*_LISTS, *ENTRY_WORDS) and isinstance(path[1], int):
            parts: list[str] = []
            for p in path[2:]:  # list items 1-based: 'members 3.name'
                if isinstance(p, int) and parts:
                    parts[-1] = f"{parts[-1]} {p + 1}"
                else:
                    parts.append(str(p))
            return self.entry(path[0], path[1]), ".".join(parts) or None
        if not path:
            return None, None
        parts = []
        for p in path:  # list items 1-based: ('trunk', 'dial_out', 0) -> trunk: dial_out 1
            if isinstance(p, int) and parts:
                parts[-1] = f"{parts[-1]} {p + 1}"
            else:
                parts.append(str(p))
        return (".".join(parts[:-1]) or None), parts[-1]

    def phone(self, index: int) -> str:
        """'phone 3 (saal2)': 1-based, with its name when it has one."""
        return self.entry("phones", index)

    def entry(self, key: str, index: int) -> str:
        """'phone 3 (saal2)', 'group 1 (infodesk)', 'base 2 (dect-b)': 1-based, with its name."""
        entries = self.data.get(key) if isinstance(self.data, dict) else None
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        what = ENTRY_WORDS.get(key, key[:-1])
        return f"{what} {index + 1} ({name})" if isinstance(name, str) and name else f"{what} {index + 1}"

    def line(self, path: tuple, key: bool = False, exact: bool = False) -> int | None:
        """The line of the value at `path` (or of its key); if it is not in the file, the line
        of the nearest value that holds it, or None when `exact`."""
        if self.doc is None:
            return None
        if exact and self.doc.node(path, exact=True) is None:
            return None
        return self.doc.key_line(path) if key else self.doc.line(path)

    def add(self, path: tuple, text: str, line: int | None = None, key: bool = False) -> None:
        """Report `text` about the value at `path`: at `line`, or the line of the value (of its
        key when `key`); `line=0` for a value the file does not have."""
        if line is None:
            line = self.line(path, key)
        entry, field = self.label(path)
        parts = [f"{self.name}:{line}" if line else self.name]
        parts += [p for p in (entry, field) if p]
        self.report.add(self.order, line, ": ".join(parts + [text]))

    def validate(self, model: type[BaseModel], data: Any, prefix: tuple = ()) -> tuple[Any, set]:
        """(`model` from `data`, or None; the fields that had errors), every error reported in
        words. Errors about a value the YAML loader already refused are not repeated."""
        try:
            return model.model_validate(data), set()
        except ValidationError as e:
            bad = set()
            refused = self.doc.refused if self.doc is not None else set()
            for error in e.errors(include_url=False):
                loc = tuple(error["loc"])
                path = prefix + loc
                if loc:
                    bad.add(loc[0])
                if (
                    error["type"] != "extra_forbidden"
                    and refused
                    and any(path[:n] in refused for n in range(1, len(path) + 1))
                ):
                    continue
                source = self.doc.source(path) if self.doc is not None else None
                text = explain(error, model, source)
                self.add(path, text, key=error["type"] == "extra_forbidden")
            return None, bad
