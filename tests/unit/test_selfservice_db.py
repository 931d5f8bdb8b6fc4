"""The self-service database: Alembic's migrations rendered as SQL and applied by the PBX's
tool (roles/selfservice/files/claimsdb.py, Python's standard library only); claims added and
released; Asterisk's realtime views of them; a redeploy never touches a claim. No host: the
tool runs here on a file in tmp_path."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys

import pytest

from roles.selfservice import schema
from roles.selfservice.files import claimsdb

WANTED = {
    "settings": {"claimable_first": "2000", "claimable_last": "8999", "claim_days": "2", "in_directory": "1"},
    "endpoint_defaults": {"context": "from-internal", "allow": "g722,alaw", "max_contacts": "1"},
}


def tool(db, *args, stdin: str = "", capsys=None, monkeypatch=None) -> tuple[int, str, str]:
    if monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = claimsdb.main(["--db", str(db), "--owner", "root", *args])  # as root: no user to become
    out, err = capsys.readouterr() if capsys is not None else ("", "")
    return status, out, err


@pytest.fixture
def db(tmp_path, capsys, monkeypatch):
    """A database migrated to HEAD with the settings above, and a way to run the tool on it."""
    path = tmp_path / "selfservice" / "claims.sqlite3"
    (tmp_path / "migrate.sql").write_text(schema.upgrade_sql(None))
    (tmp_path / "wanted.json").write_text(json.dumps(WANTED))

    def run(*args, stdin=""):
        return tool(path, *args, stdin=stdin, capsys=capsys, monkeypatch=monkeypatch)

    status, out, _ = run("migrate", str(tmp_path / "migrate.sql"), str(tmp_path / "wanted.json"))
    assert status == 0 and json.loads(out) == {"from": None, "to": schema.HEAD, "changed": 7}
    run.path = path  # type: ignore[attr-defined]
    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


def test_head_is_alembics_one_head():
    assert schema.heads() == (schema.HEAD,)


def test_a_database_at_head_needs_no_sql_and_an_unknown_revision_is_refused():
    assert schema.upgrade_sql(schema.HEAD) == ""
    with pytest.raises(ValueError, match="revision 'ffff', which this televoc does not know"):
        schema.upgrade_sql("ffff")


def test_the_sql_renders_for_postgresql_too():
    sql = schema.upgrade_sql(None, "postgresql")
    assert "CREATE TABLE claims" in sql and "CREATE VIEW ps_endpoints" in sql and "to_char(now()" in sql


def test_a_claim_gives_its_secrets_once_and_keeps_the_release_secret_hashed(db):
    status, out, _ = db("claim", "2345", "--name", "Alice", "--kind", "softphone", "--in-directory")
    assert status == 0
    given = json.loads(out)
    assert given["number"] == "2345" and len(given["sip_password"]) >= 12 and given["expires"]
    row = sqlite3.connect(db.path).execute("SELECT * FROM claims").fetchone()
    assert given["release_secret"] not in row and row[5].startswith("scrypt$")
    status, out, _ = db("read")
    read = json.loads(out)
    assert read["revision"] == schema.HEAD and read["mode"] == "0660"
    assert read["claims"] == [["2345", "Alice", True, "softphone", read["claims"][0][4], given["expires"]]]
    assert given["sip_password"] not in out  # the deploy's read carries no secret


def test_asterisk_finds_a_claim_in_its_realtime_views(db):
    _, out, _ = db("claim", "2345", "--name", "Alice")
    password = json.loads(out)["sip_password"]
    conn = sqlite3.connect(db.path)
    conn.row_factory = sqlite3.Row
    endpoint = dict(conn.execute("SELECT * FROM ps_endpoints WHERE id = '2345'").fetchone())
    assert endpoint["aors"] == endpoint["auth"] == "2345"
    assert endpoint["callerid"] == '"Alice" <2345>' and endpoint["context"] == "from-internal"
    auth = dict(conn.execute("SELECT * FROM ps_auths WHERE id = '2345'").fetchone())
    assert auth == {"id": "2345", "auth_type": "userpass", "username": "2345", "password": password}
    assert dict(conn.execute("SELECT * FROM ps_aors").fetchone())["max_contacts"] == "1"


def test_an_expired_claim_leaves_the_views_by_itself(db):
    db("claim", "2345")
    conn = sqlite3.connect(db.path)
    conn.execute("UPDATE claims SET expires = '2000-01-01T00:00:00Z'")
    conn.commit()
    assert conn.execute("SELECT count(*) FROM ps_endpoints").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM claims").fetchone() == (1,)


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (("claim", "1999"), "'1999' is not in the claimable range 2000-8999"),
        (("claim", "20000"), "'20000' is not in the claimable range"),
        (("claim", "2345", "--name", 'Al"ice'), "without quotes"),
    ],
)
def test_a_claim_outside_the_range_or_with_a_bad_name_is_refused(db, args, refusal):
    status, _, err = db(*args)
    assert status == 2 and refusal in err


def test_a_number_is_claimed_once(db):
    db("claim", "2345")
    status, _, err = db("claim", "2345")
    assert status == 2 and "2345 is claimed already" in err


def test_release_needs_the_secret(db):
    _, out, _ = db("claim", "2345")
    secret = json.loads(out)["release_secret"]
    status, _, err = db("release", "2345", "--secret-from-stdin", stdin="wrong\n")
    assert status == 2 and "no claim with that secret" in err
    status, out, _ = db("release", "2345", "--secret-from-stdin", stdin=secret + "\n")
    assert status == 0 and json.loads(out) == {"released": "2345"}
    assert json.loads(db("read")[1])["claims"] == []


def test_a_redeploy_migrates_nothing_and_never_touches_a_claim(db):
    db("claim", "2345", "--name", "Alice")
    before = sqlite3.connect(db.path).execute("SELECT * FROM claims").fetchall()
    (db.tmp / "none.sql").write_text(schema.upgrade_sql(schema.HEAD))
    changed = {**WANTED, "settings": {**WANTED["settings"], "claim_days": "3"}}
    (db.tmp / "wanted2.json").write_text(json.dumps(changed))
    status, out, _ = db("migrate", str(db.tmp / "none.sql"), str(db.tmp / "wanted2.json"))
    assert status == 0 and json.loads(out) == {"from": schema.HEAD, "to": schema.HEAD, "changed": 1}
    assert sqlite3.connect(db.path).execute("SELECT * FROM claims").fetchall() == before


def test_the_export_is_csv_without_secrets(db):
    _, out, _ = db("claim", "2345", "--name", "Alice, Bob", "--no-in-directory")
    secret = json.loads(out)
    status, out, _ = db("export")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["number", "display_name", "in_directory", "kind", "created", "expires"]
    assert rows[1][:4] == ["2345", "Alice, Bob", "0", "softphone"]
    assert secret["sip_password"] not in out and secret["release_secret"] not in out


def test_no_database_is_read_as_absent_and_cannot_be_claimed_in(tmp_path, capsys, monkeypatch):
    path = tmp_path / "none" / "claims.sqlite3"
    assert json.loads(tool(path, "read", capsys=capsys)[1]) == {"db": "absent"}
    status, _, err = tool(path, "claim", "2345", capsys=capsys, monkeypatch=monkeypatch)
    assert status == 2 and "no database" in err and not path.exists()


def test_a_claim_takes_the_events_in_directory_unless_the_participant_says(db):
    db("claim", "2345")
    db("claim", "2346", "--no-in-directory")
    claims = json.loads(db("read")[1])["claims"]
    assert [(c[0], c[2]) for c in claims] == [("2345", True), ("2346", False)]


def test_claim_many_claims_each_row_and_refuses_the_bad_ones_alone(db):
    rows = [
        {"number": "2001", "name": "Bob"},
        {"number": "2002", "name": "Carol", "kind": "snom", "in_directory": False, "password": "x" * 12},
        {"number": "2001", "name": "Again"},  # claimed already
        {"number": "1999"},  # outside the range
        {"number": "2003", "name": 'Eve "the" <hacker>'},
        {"number": "2004", "colour": "red"},
        {"number": 2005},
        "not an object",
    ]
    stdin = "\n".join(json.dumps(r) for r in rows) + "\n{broken\n\n"
    status, out, err = db("claim-many", stdin=stdin)
    assert status == 2 and "7 rows refused" in err
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) == 9
    assert [a.get("number") for a in answers[:2]] == ["2001", "2002"] and "refused" not in answers[0]
    assert answers[1]["sip_password"] == "x" * 12 and answers[0]["release_secret"] and answers[0]["committed"] > 0
    assert [a["refused"] for a in answers[2:4]] == [
        "2001 is claimed already",
        "'1999' is not in the claimable range 2000-8999",
    ]
    assert "quotes" in answers[4]["refused"] and "unknown keys: colour" in answers[5]["refused"]
    assert all("refused" in a for a in answers[6:])
    status, out, _ = db("read")
    read = json.loads(out)
    assert [c[:4] for c in read["claims"]] == [["2001", "Bob", True, "softphone"], ["2002", "Carol", False, "snom"]]
    # every row is committed alone: the same release works for both
    status, _, _ = db("release", "2002", "--secret-from-stdin", stdin=answers[1]["release_secret"] + "\n")
    assert status == 0


def test_the_deploys_read_counts_the_claims_in_its_range_and_lists_the_others(db):
    stdin = "".join(json.dumps({"number": n, "name": f"P{n}"}) + "\n" for n in ("2001", "2500", "8999"))
    assert db("claim-many", stdin=stdin)[0] == 0
    # the range moved to 2000-2999 in event.yml: 8999 is outside it now, so a crew number may be it
    status, out, _ = db("read", "--listed-outside", "2000", "2999")
    read = json.loads(out)
    assert status == 0 and read["count"] == 3 and [c[0] for c in read["claims"]] == ["8999"]
    # a range of other length lists every claim; no range lists every claim too
    assert [c[0] for c in json.loads(db("read", "--listed-outside", "20000", "29999")[1])["claims"]] == [
        "2001",
        "2500",
        "8999",
    ]
    assert json.loads(db("read")[1])["count"] == 3
