"""The call log's rows read from a copy of its SQLite file (or, for the crew's board, the live
one), and written as CSV: pure but for the files it is given (no host; standard library only:
the board ships it to the PBX)."""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path


def rows_of(path: str, table: str, check: bool = True) -> list[dict[str, str]]:
    """Every row of `table` in the SQLite file at `path`, in the order Asterisk wrote them
    (read-only; a file that is no database, or with `check` fails SQLite's check, is refused).
    A copy is checked; the crew's board reads the live file Asterisk writes (check=False: the
    check would read the whole file under its lock every time)."""
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=2)
    try:
        verdict = db.execute("PRAGMA quick_check").fetchone() if check else ("ok",)
        if verdict is None or verdict[0] != "ok":
            raise ValueError(f"{path}: the call log's copy is damaged ({verdict})")
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
            return []  # Asterisk makes the table at its first call
        db.row_factory = sqlite3.Row
        quoted = '"' + table.replace('"', '""') + '"'
        return [
            {k: "" if r[k] is None else str(r[k]) for k in r.keys()}
            for r in db.execute(f"SELECT * FROM {quoted} ORDER BY rowid")
        ]
    finally:
        db.close()


def write_csv(rows: list[dict[str, str]], path: str, columns: tuple[str, ...] = ()) -> None:
    """`rows` as CSV at `path`, readable by its owner only (who called whom is personal data);
    the columns of the first row, or `columns` when there is none."""
    fields = list(rows[0].keys()) if rows else list(columns)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    with open(fd, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str) -> list[dict[str, str]]:
    """The rows of an exported CSV (for the statistics of an export, later)."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
