"""The self-service database's operations decide from the run's snapshot alone: what each
yields (or why it does nothing) for the database it was read as. No host: pyinfra's `host`
is a stand-in that records the noop messages."""

from __future__ import annotations

import pytest
from pyinfra.api import FileUploadCommand, FunctionCommand, OperationError, StringCommand

from roles.event import load_directory
from roles.event.selfservice import Claim
from roles.selfservice import operations, schema
from roles.selfservice.render import Database
from roles.selfservice.state import ABSENT, NO_TOOL, PRESENT, UNREADABLE, DbState

from .eventdirs import write

WANTED = {"settings": {"claimable_first": "2000"}, "endpoint_defaults": {"context": "from-internal"}}
DB = Database(serves=True, wanted=WANTED)
CLI = "asterisk -C /etc/asterisk/asterisk.conf"


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


def settled(**changes) -> DbState:
    fields = {
        "status": PRESENT,
        "revision": schema.HEAD,
        "mode": "0660",
        "settings": dict(WANTED["settings"]),
        "defaults": dict(WANTED["endpoint_defaults"]),
        "claims": (Claim("2345", "Alice"),),
    }
    return DbState(**{**fields, **changes})


def commands(operation, **kwargs) -> list:
    return list(operation._inner(**kwargs))


def test_a_current_database_gets_no_command(host):
    assert commands(operations.database_migrated, db=DB, state=settled(), cli=CLI) == []
    assert host.noops == [f"the self-service database is at revision {schema.HEAD} with the event's settings"]


@pytest.mark.parametrize(
    "state",
    [settled(mode="0644"), settled(settings={"claimable_first": "3000"}), settled(defaults={})],
    ids=["mode", "settings", "defaults"],
)
def test_a_database_that_differs_is_set_right_without_a_migration_or_a_reload(host, state):
    yielded = commands(operations.database_migrated, db=DB, state=state, cli=CLI)
    uploads = [c for c in yielded if isinstance(c, FileUploadCommand)]
    assert uploads[0].src.getvalue() == ""  # no SQL: the schema is current
    assert any("migrate" in str(c) for c in yielded if isinstance(c, StringCommand))
    assert not any(isinstance(c, FunctionCommand) for c in yielded)  # the driver has it open


@pytest.mark.parametrize("status", [ABSENT, NO_TOOL])
def test_a_missing_database_is_made_and_asterisks_driver_opens_it(host, status):
    yielded = commands(operations.database_migrated, db=DB, state=DbState(status), cli=CLI)
    sql = [c for c in yielded if isinstance(c, FileUploadCommand)][0].src.getvalue()
    assert "CREATE TABLE claims" in sql and "CREATE VIEW ps_endpoints" in sql
    assert isinstance(yielded[-1], FunctionCommand)


def test_self_service_off_leaves_the_database_and_its_claims(host):
    assert commands(operations.database_migrated, db=Database(serves=False), state=settled(), cli=CLI) == []
    assert host.noops == ["self-service is off here: the database is left as it is (1 claims kept)"]


def event(tmp_path):
    return write(
        tmp_path,
        "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n",
        "phones:\n  - {name: a1, extension: 1001}\n  - {name: a2, extension: 1002}\n",
    )


def test_a_crew_number_that_is_claimed_stops_the_run_naming_the_claim(host, tmp_path):
    path = event(tmp_path)
    state = settled(claims=(Claim("1002", "Bob", "2026-12-27T14:02:00Z"),))
    with pytest.raises(OperationError, match="'1002' is claimed by a participant as 'Bob' since 2026-12-27T14:02:00Z"):
        commands(operations.claims_respected, event_dir=str(path), directory=load_directory(path), state=state)


def test_claims_no_crew_number_takes_let_the_run_go_on(host, tmp_path):
    path = event(tmp_path)
    assert (
        commands(operations.claims_respected, event_dir=str(path), directory=load_directory(path), state=settled())
        == []
    )
    assert host.noops == ["1 claimed numbers held, none of them a crew number"]


def test_a_database_that_cannot_be_read_stops_the_run(host, tmp_path):
    path = event(tmp_path)
    state = DbState(UNREADABLE, error="sqlite3.DatabaseError: file is not a database")
    with pytest.raises(OperationError, match="could not be read \\(sqlite3.DatabaseError"):
        commands(operations.claims_respected, event_dir=str(path), directory=load_directory(path), state=state)
