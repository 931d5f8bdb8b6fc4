#!/usr/bin/env python3
"""televoc's self-service database on the PBX: claims, temporary numbers, tokens.

Runs on the PBX with Python's standard library only (NixOS: /etc/televoc/bin/televoc-claims,
a wrapper around the Python the provisioning server runs on). Asterisk reads the claimed
numbers from the same file (PJSIP realtime: the views ps_endpoints, ps_auths, ps_aors), so a
claim added here is callable at once, without a reload.

    televoc-claims read [--listed-outside FIRST LAST]   # one JSON line: revision, settings, how many
                                              # claims, and each claim (no secrets), or only those outside
                                              # FIRST-LAST (what a deploy's collision check needs)
    televoc-claims migrate SQL SETTINGS       # apply a migration (Alembic's SQL), write the settings
    televoc-claims claim 2345 --name Alice [--kind softphone] [--(no-)in-directory] [--password-from-stdin]
                                              # -> JSON with the SIP password and the release secret, once
    televoc-claims claim-many < rows.jsonl    # one claim per JSON line ({"number", "name", "kind",
                                              # "in_directory", "password"}): one JSON line out per row,
                                              # printed once it is committed; a bad row is refused alone
    televoc-claims release 2345 --secret-from-stdin   (or --by-crew: root only, no secret)
    televoc-claims export                     # CSV of the claims (no secrets), for the crew
    televoc-claims remove                     # the database and its directory (teardown)

The file belongs to the asterisk user (0640 in a 0750 directory): it holds the SIP password
of every claimed number. Run as root, the tool works as the owner of the directory (so every
file SQLite makes belongs to it); `read` and `export` open the file read-only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import json
import os
import pwd
import re
import secrets
import shutil
import sqlite3
import sys
import time

DB = "/var/lib/televoc-selfservice/claims.sqlite3"
OWNER = "asterisk"
MADE = "made.conf"  # beside the database: res_config_sqlite3.conf includes it
KINDS = ("snom", "softphone", "other")
EXPORT_COLUMNS = ("number", "display_name", "in_directory", "kind", "created", "expires")
# A display name goes into a SIP From header and the directory: printable, no quotes or <>.
NAME_RE = re.compile(r"^[^\x00-\x1f\x7f\"<>\\]{1,40}$")
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class Refused(Exception):
    """What the tool refuses, in words for the person who asked (exit status 2)."""


def now(offset_seconds: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_seconds))


def hash_secret(secret: str) -> str:
    """scrypt with a salt of its own: a stolen database gives no release secret or token."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def secret_matches(secret: str, stored: str) -> bool:
    try:
        kind, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    mine = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), dklen=32, **SCRYPT)
    return hmac.compare_digest(mine.hex(), digest)


# --- the file and who works on it ---------------------------------------------------------


def as_owner(db: str, owner: str, create: bool = False) -> None:
    """Work as the owner of the database's directory (made, 0750, when `create`): every file
    SQLite writes then belongs to it. Nothing to do when not root."""
    os.umask(0o027)
    if os.geteuid() != 0:
        if not create and not os.path.exists(db):
            raise Refused(f"no database at {db}: a deploy with self_service makes it")
        return
    directory = os.path.dirname(db)
    try:
        user = pwd.getpwnam(owner)
    except KeyError as e:
        raise Refused(f"no user {owner!r} on this host (Asterisk's NixOS module makes it)") from e
    if create and not os.path.isdir(directory):
        os.makedirs(directory, mode=0o750)
        os.chown(directory, user.pw_uid, user.pw_gid)
    if not create and not os.path.exists(db):
        raise Refused(f"no database at {db}: a deploy with self_service makes it")
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def connect(db: str, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    else:
        conn = sqlite3.connect(db, timeout=5, isolation_level=None)  # autocommit; BEGIN IMMEDIATE below
        conn.execute("PRAGMA foreign_keys = ON")
    conn.row_factory = sqlite3.Row
    return conn


def revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def settings(conn: sqlite3.Connection) -> dict[str, str]:
    return {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM settings")}


# --- commands -----------------------------------------------------------------------------


def cmd_read(args) -> dict:
    """What a deploy compares, in one line: the revision, the settings and endpoint defaults,
    how many claims there are, and every claim without its secrets; with `listed_outside`
    (first, last), only the claims outside that range (a crew number, which the event keeps
    out of its claimable range, can be no other: the output stays one short line however
    many participants claimed inside it)."""
    if not os.path.exists(args.db):
        return {"db": "absent"}
    conn = connect(args.db, readonly=True)
    current = revision(conn)
    if current is None:
        return {"db": "empty"}
    count = conn.execute("SELECT count(*) FROM claims").fetchone()[0]
    query, bound = f"SELECT {', '.join(EXPORT_COLUMNS)} FROM claims", tuple[object, ...]()
    if args.listed_outside:
        first, last = args.listed_outside
        query += " WHERE NOT (length(number) = ? AND number BETWEEN ? AND ?)"
        bound = (len(first), first, last)
    claims = [
        [r["number"], r["display_name"], bool(r["in_directory"]), r["kind"], r["created"], r["expires"]]
        for r in conn.execute(query + " ORDER BY number", bound)
    ]
    defaults = {r["option"]: r["value"] for r in conn.execute("SELECT option, value FROM endpoint_defaults")}
    mode = os.stat(args.db).st_mode & 0o777
    return {
        "db": "present",
        "revision": current,
        "mode": f"{mode:04o}",
        "settings": settings(conn),
        "defaults": defaults,
        "count": count,
        "claims": claims,
    }


def cmd_migrate(args) -> dict:
    """Apply Alembic's SQL (one transaction; empty: nothing to migrate), then write the
    settings and endpoint defaults that differ. Never touches a claim."""
    with open(args.sql, encoding="utf-8") as f:
        sql = f.read()
    with open(args.settings, encoding="utf-8") as f:
        wanted = json.load(f)
    as_owner(args.db, args.owner, create=True)
    conn = connect(args.db)
    before = revision(conn)
    if sql.strip():
        conn.executescript(sql)
    if before is None:  # made now: Asterisk's realtime driver sees a changed config (made.conf)
        with open(os.path.join(os.path.dirname(args.db), MADE), "w", encoding="utf-8") as f:
            f.write(f"; the self-service database was made {now()} (res_config_sqlite3.conf includes this)\n")
    conn.execute("BEGIN IMMEDIATE")
    changed = 0
    for table, key, column in (("settings", "key", "key"), ("endpoint_defaults", "option", "option")):
        have = {r[0]: r[1] for r in conn.execute(f"SELECT {key}, value FROM {table}")}
        for name, value in wanted.get(table, {}).items():
            if have.get(name) != str(value):
                conn.execute(
                    f"INSERT INTO {table} ({column}, value) VALUES (?, ?) "
                    f"ON CONFLICT ({column}) DO UPDATE SET value = excluded.value",
                    (name, str(value)),
                )
                changed += 1
        for name in set(have) - set(wanted.get(table, {})):
            conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (name,))
            changed += 1
    conn.execute("COMMIT")
    os.chmod(args.db, 0o640)
    return {"from": before, "to": revision(conn), "changed": changed}


def _in_range(number: str, conf: dict[str, str]) -> bool:
    first, last = conf.get("claimable_first"), conf.get("claimable_last")
    if not first or not last:
        return False
    return len(number) == len(first) and number.isdigit() and first <= number <= last


def claimed(conn: sqlite3.Connection) -> set[str]:
    """Every number claimed (expired or not: a row holds its number until it is released)."""
    return {r[0] for r in conn.execute("SELECT number FROM claims")}


def claim(
    conn: sqlite3.Connection,
    number: str,
    name: str | None,
    kind: str = "softphone",
    in_directory: bool | None = None,
    password: str | None = None,
    token: bool = False,
) -> dict:
    """Claim `number` in one transaction: its SIP password (`password`, else random) and a
    release secret, returned once; the database keeps the release secret hashed. With `token`,
    also a claim token of `token_digits` digits that expires after `token_minutes` (kept
    hashed, single use: the claim by dialling marks it used). What the command and the
    registration page both call."""
    if name is not None and not NAME_RE.match(name):
        raise Refused("a name has 1 to 40 printable characters, without quotes, < or >")
    if kind not in KINDS:
        raise Refused(f"a kind is one of {', '.join(KINDS)}")
    password = password if password is not None else secrets.token_urlsafe(18)
    if len(password) < 12:
        raise Refused("a SIP password has at least 12 characters")
    release = secrets.token_urlsafe(18)
    conf = settings(conn)
    if not _in_range(number, conf):
        raise Refused(
            f"{number!r} is not in the claimable range "
            f"{conf.get('claimable_first', '?')}-{conf.get('claimable_last', '?')}"
        )
    if in_directory is None:
        in_directory = conf.get("in_directory") == "1"
    days = conf.get("claim_days")
    expires = now(float(days) * 86400) if days else None
    given = {"number": number, "sip_password": password, "release_secret": release, "expires": expires}
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT INTO claims (number, display_name, in_directory, kind, sip_password, release_hash, created,"
            " expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (number, name, in_directory, kind, password, hash_secret(release), now(), expires),
        )
    except sqlite3.IntegrityError as e:
        conn.execute("ROLLBACK")
        raise Refused(f"{number} is claimed already") from e
    if token:
        digits = int(conf.get("token_digits", "6"))
        minutes = float(conf.get("token_minutes", "30"))
        given["token"] = dialled = f"{secrets.randbelow(10**digits):0{digits}d}"
        given["token_expires"] = until = now(minutes * 60)
        conn.execute(
            "INSERT INTO tokens (token_hash, number, created, expires) VALUES (?, ?, ?, ?)",
            (hash_secret(dialled), number, now(), until),
        )
    conn.execute("COMMIT")
    return given


def release(conn: sqlite3.Connection, number: str, secret: str | None) -> None:
    """Release `number` with its release secret (None: by the crew, no secret); its tokens
    go with it. Refused, in the same words, for no claim and a wrong secret."""
    conn.execute("BEGIN IMMEDIATE")
    row = conn.execute("SELECT release_hash FROM claims WHERE number = ?", (number,)).fetchone()
    if row is None or not (secret is None or secret_matches(secret, row[0])):
        conn.execute("ROLLBACK")
        raise Refused(f"{number}: no claim with that secret")
    conn.execute("DELETE FROM claims WHERE number = ?", (number,))
    conn.execute("COMMIT")


def cmd_claim(args) -> dict:
    """Claim a number: its SIP password (given on stdin, else random) and a release secret,
    printed once; the database keeps the release secret hashed."""
    password = sys.stdin.readline().strip() if args.password_from_stdin else None
    if args.name is not None and not NAME_RE.match(args.name):  # before becoming the owner
        raise Refused("a name has 1 to 40 printable characters, without quotes, < or >")
    as_owner(args.db, args.owner)
    return claim(connect(args.db), args.number, args.name, args.kind, args.in_directory, password)


MANY_KEYS = frozenset({"number", "name", "kind", "in_directory", "password"})


def claim_row(conn: sqlite3.Connection, line: str) -> dict:
    """One row of `claim-many`: a JSON object with `number` and optionally `name`, `kind`,
    `in_directory`, `password`, claimed as `claim` would (its own transaction). What it gives,
    with `committed` (the Unix time after the commit); a refused row gives its number and why."""
    try:
        row = json.loads(line)
    except ValueError:
        return {"refused": "not a JSON object"}
    if not isinstance(row, dict) or not isinstance(row.get("number"), str):
        return {"refused": "a row is a JSON object with a number (a string)"}
    number = row["number"]
    unknown = sorted(set(row) - MANY_KEYS)
    if unknown:
        return {"number": number, "refused": f"unknown keys: {', '.join(unknown)}"}
    name, password, in_directory = row.get("name"), row.get("password"), row.get("in_directory")
    if not all(isinstance(v, str) for v in (name, password, row.get("kind")) if v is not None):
        return {"number": number, "refused": "a name, a kind and a password are strings"}
    if not (in_directory is None or isinstance(in_directory, bool)):
        return {"number": number, "refused": "in_directory is true or false"}
    try:
        given = claim(conn, number, name, row.get("kind", "softphone"), in_directory, password)
    except Refused as e:
        return {"number": number, "refused": str(e)}
    given["committed"] = round(time.time(), 3)
    return given


def cmd_claim_many(args) -> None:
    """Claim one number per line of stdin (JSON, as `claim_row` reads it), each in its own
    transaction, printing each answer as soon as it is committed (the SIP password and the
    release secret, once; or why the row was refused). Exit 2 when a row was refused."""
    as_owner(args.db, args.owner)
    conn = connect(args.db)
    refused = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        given = claim_row(conn, line)
        refused += "refused" in given
        print(json.dumps(given, sort_keys=True), flush=True)
    if refused:
        raise Refused(f"{refused} rows refused (each said why); the others are claimed")


def cmd_release(args) -> dict:
    """Release a claim with its secret (or, as root, `--by-crew`)."""
    if args.by_crew and os.geteuid() != 0:
        raise Refused("--by-crew is root's")
    secret = None if args.by_crew else sys.stdin.readline().strip()
    as_owner(args.db, args.owner)
    release(connect(args.db), args.number, secret)
    return {"released": args.number}


def cmd_export(args) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow(EXPORT_COLUMNS)
    if not os.path.exists(args.db):
        return
    conn = connect(args.db, readonly=True)
    if revision(conn) is None:
        return
    for r in conn.execute(f"SELECT {', '.join(EXPORT_COLUMNS)} FROM claims ORDER BY number"):
        writer.writerow([r[c] if c != "in_directory" else int(r[c]) for c in EXPORT_COLUMNS])


def cmd_remove(args) -> dict:
    directory = os.path.dirname(args.db)
    if not os.path.isdir(directory):
        return {"removed": False}
    shutil.rmtree(directory)
    return {"removed": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="televoc-claims", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=DB)
    parser.add_argument("--owner", default=OWNER)
    sub = parser.add_subparsers(dest="command", required=True)
    read = sub.add_parser("read")
    read.add_argument("--listed-outside", nargs=2, metavar=("FIRST", "LAST"))
    migrate = sub.add_parser("migrate")
    migrate.add_argument("sql")
    migrate.add_argument("settings")
    claim = sub.add_parser("claim")
    claim.add_argument("number")
    claim.add_argument("--name")
    claim.add_argument("--kind", choices=KINDS, default="softphone")
    claim.add_argument(
        "--in-directory", action=argparse.BooleanOptionalAction, default=None, help="default: the event's in_directory"
    )
    claim.add_argument("--password-from-stdin", action="store_true")
    sub.add_parser("claim-many")
    release = sub.add_parser("release")
    release.add_argument("number")
    how = release.add_mutually_exclusive_group(required=True)
    how.add_argument("--secret-from-stdin", action="store_true")
    how.add_argument("--by-crew", action="store_true")
    sub.add_parser("export")
    sub.add_parser("remove")
    args = parser.parse_args(argv)
    commands = {
        "read": cmd_read,
        "migrate": cmd_migrate,
        "claim": cmd_claim,
        "claim-many": cmd_claim_many,
        "release": cmd_release,
        "export": cmd_export,
        "remove": cmd_remove,
    }
    try:
        result = commands[args.command](args)
    except Refused as e:
        print(f"televoc-claims: {e}", file=sys.stderr)
        return 2
    if result is not None:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
