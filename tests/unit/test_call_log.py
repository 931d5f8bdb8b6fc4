"""The call log without a host: the key in event.yml, Asterisk's files for it (on and off),
the steps' decisions from the run's read, the export, and the crew's statistics."""

from __future__ import annotations

import csv
import sqlite3

import pytest
from pyinfra.api import FunctionCommand, StringCommand

from roles.asterisk.render import CALL_LOG_COLUMNS, render_asterisk
from roles.calllog import export, operations
from roles.calllog.stats import Call, locations, merged, statistics, text
from roles.event import load_directory
from roles.shared.names import CALL_LOG_DB

from .eventdirs import problems, write

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
PHONES = "phones:\n  - {name: a, extension: '1001', location: Hall A}\n  - {name: b, extension: '1002'}\n"
CLI = "asterisk -C /etc/asterisk/asterisk.conf"


def directory(tmp_path, extra: str = ""):
    return load_directory(write(tmp_path, EVENT + extra, PHONES))


def test_the_call_log_is_off_unless_the_crew_turns_it_on(tmp_path):
    assert directory(tmp_path).event.call_log.enabled is False


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("{enabled: yes}", "call_log: enabled: YAML 1.1 reads yes"),
        ("{enabled: true, keep: 3}", "call_log: keep: unknown key"),
        ("true", "call_log:"),
    ],
)
def test_a_call_log_written_wrong_is_refused_naming_the_key(tmp_path, value, named):
    found = problems(write(tmp_path, EVENT + f"call_log: {value}\n", PHONES))
    assert any(named in p for p in found), found


def test_off_asterisk_records_no_call_anywhere(tmp_path):
    files = render_asterisk(directory(tmp_path)).conf_files
    assert "enable=no" in files["cdr.conf"].splitlines()
    assert "cdr_sqlite3_custom.conf" not in files
    assert (
        "hangup_handler_push" not in files["extensions.conf"] and "[televoc-call-log]" not in files["extensions.conf"]
    )
    noload = {line.split("=> ")[1] for line in files["modules.conf"].splitlines() if line.startswith("noload")}
    assert {"cdr_sqlite3_custom.so", "cdr_csv.so", "cdr_custom.so", "cdr_syslog.so", "cel_custom.so"} <= noload


def test_on_asterisk_writes_one_database_of_the_asterisk_users(tmp_path):
    files = render_asterisk(directory(tmp_path, "call_log:\n  enabled: true\n")).conf_files
    assert "enable=yes" in files["cdr.conf"].splitlines() and "unanswered=yes" in files["cdr.conf"].splitlines()
    conf = files["cdr_sqlite3_custom.conf"]
    assert "[master]" in conf.splitlines()  # master.db: the only file older cdr_sqlite3_custom writes
    columns = next(line for line in conf.splitlines() if line.startswith("columns => "))
    values = next(line for line in conf.splitlines() if line.startswith("values => "))
    assert columns.removeprefix("columns => ").split(", ") == [c for c, _ in CALL_LOG_COLUMNS]
    assert values.count("'${CDR(") == len(CALL_LOG_COLUMNS)
    # every call a phone places gets a hangup handler that writes the cause into its row
    assert "Set(CHANNEL(hangup_handler_push)=televoc-call-log,s,1)" in files["extensions.conf"]
    assert "exten => s,1,Set(CDR(cause)=${HANGUPCAUSE})" in files["extensions.conf"]
    noload = files["modules.conf"]
    assert "noload => cdr_sqlite3_custom.so" not in noload and "noload => cdr_csv.so" in noload


class Host:
    def __init__(self):
        self.noops: list[str] = []

    def noop(self, text: str) -> None:
        self.noops.append(text)


@pytest.fixture
def host(monkeypatch):
    fake = Host()
    monkeypatch.setattr(operations, "host", fake)
    return fake


def in_place(**kwargs) -> list:
    arguments = {"enabled": True, "path": CALL_LOG_DB, "state": operations.OWNED, "switched": False, "cli": CLI}
    return list(operations.call_log_in_place._inner(**{**arguments, **kwargs}))


def test_a_call_log_in_place_gets_no_command(host):
    assert in_place() == []
    assert host.noops == [f"the call log is in place ({CALL_LOG_DB}, asterisk:asterisk 640)"]


def test_off_no_command_and_a_log_of_earlier_is_named(host):
    assert in_place(enabled=False, state=operations.ABSENT) == []
    assert in_place(enabled=False) == []
    assert host.noops[0] == "the call log is off: Asterisk writes no call records"
    assert "teardown removes it" in host.noops[1]


@pytest.mark.parametrize(
    ("state", "switched"), [(operations.ABSENT, False), ("asterisk:asterisk 644", False), (operations.OWNED, True)]
)
def test_a_missing_or_readable_log_or_a_switch_sets_the_mode_and_loads_the_module(host, state, switched):
    commands = in_place(state=state, switched=switched)
    assert isinstance(commands[0], StringCommand) and "chmod 0640" in str(commands[0])
    assert "install -m 0640 -o asterisk -g asterisk /dev/null" in str(commands[0])
    assert isinstance(commands[1], FunctionCommand)


def test_nothing_to_export_or_remove_without_a_log(host):
    assert list(operations.call_log_exported._inner(CALL_LOG_DB, operations.ABSENT, "x.csv", "calls")) == []
    removed: list[str] = []
    assert list(operations.call_log_removed._inner(CALL_LOG_DB, operations.ABSENT, CLI, removed, [])) == []
    assert host.noops == ["no call log on the PBX: nothing to export", "no call log on the PBX"]


def test_the_export_writes_every_row_for_its_owner_alone(tmp_path):
    db = tmp_path / "master.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE calls (AcctId INTEGER PRIMARY KEY, src, dst, disposition)")
        c.executemany("INSERT INTO calls (src, dst, disposition) VALUES (?, ?, ?)", [("1001", "1002", "ANSWERED")] * 3)
    rows = export.rows_of(str(db), "calls")
    assert rows == [{"AcctId": str(i), "src": "1001", "dst": "1002", "disposition": "ANSWERED"} for i in (1, 2, 3)]
    out = tmp_path / "calls.csv"
    export.write_csv(rows, str(out))
    assert list(csv.DictReader(out.open())) == rows and (out.stat().st_mode & 0o777) == 0o600
    (tmp_path / "empty.db").write_bytes(b"")  # as the deploy makes it, before the first call
    assert export.rows_of(str(tmp_path / "empty.db"), "calls") == []


def row(start, src, dst, disposition, duration=0, billsec=0, linkedid=None, cause=""):
    return {
        "cause": cause,
        "start": start,
        "src": src,
        "dst": dst,
        "disposition": disposition,
        "duration": str(duration),
        "billsec": str(billsec),
        "linkedid": linkedid or f"{src}-{start}",
    }


def test_rows_of_one_call_are_merged_answered_when_any_row_was():
    rows = [
        row("2026-08-01 10:00:00", "1001", "1100", "NO ANSWER", 15, 0, "x"),  # a group: the first member
        row("2026-08-01 10:00:15", "1001", "1100", "ANSWERED", 40, 30, "x", "16"),  # the next one answers
        row("2026-08-01 10:01:00", "1002", "1001", "BUSY", 1, 0, cause="17"),
    ]
    assert merged(rows) == [
        Call("2026-08-01 10:00:00", "1001", "1100", "ANSWERED", 55, 30, "16"),
        Call("2026-08-01 10:01:00", "1002", "1001", "BUSY", 1, 0, "17"),
    ]


def test_statistics_per_hour_per_location_and_numbers_never_reached(tmp_path):
    where = locations(directory(tmp_path))
    assert where == {"1001": "Hall A", "1002": "b"}
    calls = merged(
        [
            row("2026-08-01 10:05:00", "1001", "1002", "ANSWERED", 30, 28),
            row("2026-08-01 10:59:59", "1002", "1001", "NO ANSWER", 20),
            row("2026-08-01 11:00:00", "1002", "1001", "BUSY", 1),
            row("2026-08-01 11:30:00", "1001", "0800", "FAILED"),
        ]
    )
    stats = statistics(calls, where)
    assert (stats.total, stats.answered) == (4, 1)
    assert stats.per_hour == {"2026-08-01 10": 2, "2026-08-01 11": 2}
    assert {k: (p.placed, p.received, p.answered) for k, p in stats.per_location.items()} == {
        "(not a phone)": (0, 1, 0),
        "Hall A": (2, 2, 0),
        "b": (2, 1, 1),
    }
    assert stats.never_reached == ("0800", "1001") and stats.attempts == {"1001": 2, "0800": 1}
    printed = text(stats, where)
    assert "4 calls, 1 answered" in printed and "  2026-08-01 11:00       2" in printed
    assert "  1001          2 calls  Hall A" in printed


def test_the_statistics_of_2000_phones_stay_one_line_per_location_and_hour(tmp_path):
    where = {str(1000 + i): f"Hall {i % 40}" for i in range(2000)}
    rows = [
        row(f"2026-08-01 {8 + i % 12:02d}:{i % 60:02d}:00", str(1000 + i % 2000), str(1000 + (i * 7) % 2000), d, 10, 5)
        for i, d in enumerate(["ANSWERED", "NO ANSWER"] * 10_000)
    ]
    printed = text(statistics(merged(rows), where), where)
    stats = statistics(merged(rows), where)
    assert len(stats.per_location) == 40 and len(stats.per_hour) == 12
    assert len(printed.splitlines()) == 1 + 1 + 1 + 12 + 1 + 2 + 40 + 1 + 1 + len(stats.never_reached)
