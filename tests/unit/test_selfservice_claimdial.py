"""Temporary numbers and the claim by dialling, in the database's functions (claimsdb.py):
a snom no YAML names gets the lowest free temporary number, the same again when it asks
again, served by Asterisk's realtime views in the temporary context; a token dialled from
a temporary number binds its claim to that phone's MAC once, and the phone's next fetch
gets the claim and frees the temporary number; the AGI answers Asterisk and logs a wrong
token for fail2ban without the token. No host: a file in tmp_path."""

from __future__ import annotations

import io
import json
import sqlite3
import sys

import pytest

from roles.selfservice import PAGE_JAIL_REGEX, schema
from roles.selfservice.files import claimsdb

SETTINGS = {
    "claimable_first": "2000",
    "claimable_last": "2999",
    "temporary_first": "9000",
    "temporary_last": "9002",
    "temporary_context": "televoc-temporary",
    "token_digits": "6",
    "token_minutes": "30",
}
DEFAULTS = {"context": "televoc-phones", "max_contacts": "1"}
MAC, OTHER = "000413A00001", "000413A00002"


class Conn(sqlite3.Connection):
    path: object = None


@pytest.fixture
def conn(tmp_path):
    path = tmp_path / "claims.sqlite3"
    c = sqlite3.connect(str(path), timeout=5, isolation_level=None, factory=Conn)
    c.row_factory = sqlite3.Row
    c.executescript(schema.upgrade_sql(None))
    for key, value in SETTINGS.items():
        c.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (key, value))
    for key, value in DEFAULTS.items():
        c.execute("INSERT INTO endpoint_defaults (option, value) VALUES (?, ?)", (key, value))
    c.path = path
    return c


def test_an_unknown_snom_gets_the_lowest_free_temporary_number_and_the_same_again(conn):
    first = claimsdb.phone_account(conn, MAC.lower())
    assert first["kind"] == "temporary" and first["number"] == "9000" and len(first["sip_password"]) >= 12
    assert claimsdb.phone_account(conn, MAC) == first
    assert claimsdb.phone_account(conn, OTHER)["number"] == "9001"


def test_asterisk_serves_a_temporary_number_in_the_temporary_context(conn):
    given = claimsdb.phone_account(conn, MAC)
    endpoint = dict(conn.execute("SELECT * FROM ps_endpoints WHERE id = '9000'").fetchone())
    assert endpoint["context"] == "televoc-temporary" and endpoint["callerid"] == '"Temporary 9000" <9000>'
    auth = dict(conn.execute("SELECT * FROM ps_auths WHERE id = '9000'").fetchone())
    assert auth["password"] == given["sip_password"]
    assert conn.execute("SELECT max_contacts FROM ps_aors WHERE id = '9000'").fetchone()[0] == "1"


def test_a_full_temporary_range_is_refused(conn):
    for i in range(3):
        claimsdb.phone_account(conn, f"000413B0000{i}")
    with pytest.raises(claimsdb.Refused, match="the temporary range 9000-9002 is full"):
        claimsdb.phone_account(conn, OTHER)
    assert not conn.in_transaction


def test_a_token_dialled_from_a_temporary_number_binds_its_claim_to_that_phone_once(conn):
    temporary = claimsdb.phone_account(conn, MAC)["number"]
    given = claimsdb.claim(conn, "2345", "Alice", "snom", token=True)
    assert claimsdb.redeem(conn, given["token"], temporary) == {"number": "2345", "temporary": temporary, "mac": MAC}
    # the phone's next fetch: its claim, and its temporary number is free again
    account = claimsdb.phone_account(conn, MAC)
    assert account == {
        "kind": "claimed",
        "number": "2345",
        "sip_password": given["sip_password"],
        "name": "Alice",
        "freed": temporary,
    }
    assert conn.execute("SELECT count(*) FROM ps_endpoints WHERE id = ?", (temporary,)).fetchone()[0] == 0
    # single use: the same token again is wrong, from any phone
    other = claimsdb.phone_account(conn, OTHER)["number"]
    with pytest.raises(claimsdb.WrongToken):
        claimsdb.redeem(conn, given["token"], other)


def test_a_wrong_expired_or_misdialled_token_is_wrong(conn):
    temporary = claimsdb.phone_account(conn, MAC)["number"]
    given = claimsdb.claim(conn, "2345", "Alice", "snom", token=True)
    wrong = f"{(int(given['token']) + 1) % 10**6:06d}"
    for token in (wrong, given["token"][:5], "abcdef"):
        with pytest.raises(claimsdb.WrongToken):
            claimsdb.redeem(conn, token, temporary)
    conn.execute("UPDATE tokens SET expires = '2000-01-01T00:00:00Z'")
    with pytest.raises(claimsdb.WrongToken):
        claimsdb.redeem(conn, given["token"], temporary)
    assert conn.execute("SELECT mac FROM claims").fetchone()[0] is None


def test_only_a_temporary_number_without_a_claim_can_redeem(conn):
    first = claimsdb.claim(conn, "2345", "Alice", "snom", token=True)
    second = claimsdb.claim(conn, "2346", "Bob", "snom", token=True)
    with pytest.raises(claimsdb.Refused, match="no temporary number of a phone"):
        claimsdb.redeem(conn, first["token"], "2999")
    temporary = claimsdb.phone_account(conn, MAC)["number"]
    claimsdb.redeem(conn, first["token"], temporary)
    with pytest.raises(claimsdb.Refused, match="holds a claim already"):
        claimsdb.redeem(conn, second["token"], temporary)


def agi(conn, monkeypatch, capsys, tmp_path, token: str, endpoint: str) -> tuple[str, str]:
    """Run the AGI as Asterisk would: its environment on stdin, the answers to its commands."""
    stdin = f"agi_network: yes\nagi_extension: {token}\nagi_context: televoc-claim\n\n200 result=1\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    sent: list[list[str]] = []
    monkeypatch.setattr(claimsdb.subprocess, "run", lambda argv, **kw: sent.append(argv))
    log = tmp_path / "page.log"
    status = claimsdb.main(
        ["--db", str(conn.path), "agi", "--log", str(log), "--notify", "televoc-check-sync"]
        + ["--asterisk", "/bin/asterisk", endpoint, "10.23.0.21:5061"]
    )
    assert status == 0
    out, err = capsys.readouterr()
    notify = [argv[-1] for argv in sent]
    return out, (log.read_text() if log.exists() else "") + json.dumps(notify) + err


def test_the_agi_claims_tells_the_phone_and_logs_no_token(conn, monkeypatch, capsys, tmp_path):
    temporary = claimsdb.phone_account(conn, MAC)["number"]
    given = claimsdb.claim(conn, "2345", "Alice", "snom", token=True)
    out, logged = agi(conn, monkeypatch, capsys, tmp_path, given["token"], temporary)
    assert out == "SET VARIABLE TV_CLAIM ok\n"
    assert f"pjsip send notify televoc-check-sync endpoint {temporary}" in logged
    assert "2345 claimed by dialling from 9000 (10.23.0.21)" in logged and given["token"] not in logged


def test_the_agi_logs_a_wrong_token_for_the_jail_without_the_token(conn, monkeypatch, capsys, tmp_path):
    import re

    temporary = claimsdb.phone_account(conn, MAC)["number"]
    given = claimsdb.claim(conn, "2345", "Alice", "snom", token=True)
    wrong = f"{(int(given['token']) + 1) % 10**6:06d}"
    out, logged = agi(conn, monkeypatch, capsys, tmp_path, wrong, temporary)
    assert out == "SET VARIABLE TV_CLAIM wrong\n" and wrong not in logged and "notify" not in logged
    line = logged.splitlines()[0]
    regex = PAGE_JAIL_REGEX.replace("<ADDR>", r"(?P<host>\S+)")
    match = re.search(regex, line.split(" ", 1)[1])
    assert match and match["host"] == "10.23.0.21", line


def test_a_redeem_binds_nothing_when_the_caller_cannot_claim(conn, monkeypatch, capsys, tmp_path):
    given = claimsdb.claim(conn, "2345", "Alice", "snom", token=True)
    out, logged = agi(conn, monkeypatch, capsys, tmp_path, given["token"], "1001")
    assert out == "SET VARIABLE TV_CLAIM refused\n" and "no temporary number" in logged
    assert sqlite3.connect(conn.path).execute("SELECT mac, used FROM claims JOIN tokens USING (number)").fetchone() == (
        None,
        None,
    )


def test_a_database_at_0001_with_a_claim_migrates_to_head_keeping_it(tmp_path):
    import io as _io

    from alembic import command

    out = _io.StringIO()
    command.upgrade(schema._config("sqlite", out), "0001", sql=True)
    conn = sqlite3.connect(tmp_path / "old.sqlite3", isolation_level=None)
    conn.executescript(out.getvalue())
    conn.execute("INSERT INTO settings (key, value) VALUES ('claimable_first', '2000'), ('claimable_last', '2999')")
    conn.execute(
        "INSERT INTO claims (number, display_name, in_directory, kind, sip_password, release_hash, created)"
        " VALUES ('2345', 'Alice', 0, 'softphone', 'secret-password', 'scrypt$00$00', '2026-12-07T10:00:00Z')"
    )
    conn.executescript(schema.upgrade_sql("0001"))
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0002",)
    assert conn.execute("SELECT id, callerid, password FROM ps_endpoints JOIN ps_auths USING (id)").fetchall() == [
        ("2345", '"Alice" <2345>', "secret-password")
    ]
    assert conn.execute("SELECT mac FROM claims").fetchone() == (None,)


def test_the_runs_read_names_participants_phones_without_secrets(conn, capsys):
    temporary = claimsdb.phone_account(conn, MAC)
    claimsdb.phone_account(conn, OTHER)
    given = claimsdb.claim(conn, "2345", "Alice", "snom", token=True)
    claimsdb.redeem(conn, given["token"], temporary["number"])
    claimsdb.phone_account(conn, MAC)  # the phone takes its claim: 9000 is free again
    assert claimsdb.main(["--db", str(conn.path), "read"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["phones"] == [["2345", MAC], ["9001", OTHER]]
    assert given["sip_password"] not in out and temporary["sip_password"] not in out


def test_a_dialled_token_is_checked_against_the_live_tokens_of_its_tag_only(conn, monkeypatch):
    temporary = claimsdb.phone_account(conn, MAC)["number"]
    for i in range(40):  # 40 claims with live tokens
        claimsdb.claim(conn, f"{2100 + i}", f"P{i}", "snom", token=True)
    checked = []
    real = claimsdb.secret_matches
    monkeypatch.setattr(claimsdb, "secret_matches", lambda s, h: checked.append(h) or real(s, h))
    tags = [r[0] for r in conn.execute("SELECT token_tag FROM tokens")]
    for wrong in ("000000", "123456", "999999"):
        checked.clear()
        with pytest.raises(claimsdb.WrongToken):
            claimsdb.redeem(conn, wrong, temporary)
        assert len(checked) == tags.count(claimsdb.token_tag(wrong)) < 40
