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
    televoc-claims agi ENDPOINT ADDRESS ...   # the claim by dialling: Asterisk's AGI (below)

The file belongs to the asterisk user and group (0660 in a 2770 directory: the provisioning
server, in the asterisk group, writes the temporary numbers): it holds the SIP password of
every claimed and temporary number. Run as root, the tool works as the owner of the
directory (so every file SQLite makes belongs to it); `read` and `export` open the file
read-only.

The provisioning server calls `phone_account` for a snom no YAML names: the phone's claim
(bound to its MAC by dialling the token), else its temporary number (given now, the lowest
free one of the temporary range). Asterisk runs `agi` for a call to the claim code (the
dialplan's televoc-claim context): the token (the dialled extension, read from the AGI
environment, never a command line) is checked against the hashed tokens (live, unused),
the claim is bound to the MAC of the calling temporary number, the phone is told to fetch
its settings again (NOTIFY check-sync), and the dialplan variable TV_CLAIM says `ok` or
`wrong`; a wrong token is logged for fail2ban (WRONG_TOKEN_LOG), without the token.
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
import subprocess
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
MAC_RE = re.compile(r"^[0-9A-F]{12}$")
# What fail2ban's page jail also matches: a wrong token dialled (the number dialling, its address).
WRONG_TOKEN_LOG = "televoc-page: wrong claim token dialled by {number} from {source}"


class Refused(Exception):
    """What the tool refuses, in words for the person who asked (exit status 2)."""


def now(offset_seconds: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_seconds))


def hash_secret(secret: str) -> str:
    """scrypt with a salt of its own: a stolen database gives no release secret or token."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def token_tag(token: str) -> str:
    """A token's lookup tag: the first 2 hex digits of its SHA-256 (8 of its ~20 bits). A
    dialled token is checked by scrypt against the live tokens of its tag only."""
    return hashlib.sha256(token.encode()).hexdigest()[:2]


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
    """Work as the owner of the database's directory (made, 2770, when `create`): every file
    SQLite writes then belongs to it and its group. Nothing to do when not root."""
    os.umask(0o007)
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
        os.makedirs(directory, mode=0o770)
        os.chown(directory, user.pw_uid, user.pw_gid)
    if create:  # the group (the provisioning server) writes too; files made in it keep the group
        os.chmod(directory, 0o2770)
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
    many participants claimed inside it, and without the participants' phones, which only a
    teardown needs)."""
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
    # participants' snoms: the number each holds and its MAC (teardown wipes them); a deploy's
    # read (listed_outside) needs none of them, and stays short however many phones claimed
    phones = (
        []
        if args.listed_outside
        else [
            [r[0], r[1]]
            for r in conn.execute(
                "SELECT number, mac FROM claims WHERE mac IS NOT NULL "
                "UNION ALL SELECT number, mac FROM temporary_numbers WHERE mac IS NOT NULL ORDER BY number"
            )
        ]
    )
    mode = os.stat(args.db).st_mode & 0o777
    return {
        "db": "present",
        "revision": current,
        "mode": f"{mode:04o}",
        "settings": settings(conn),
        "defaults": defaults,
        "count": count,
        "claims": claims,
        "phones": phones,
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
    os.chmod(args.db, 0o660)
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
            "INSERT INTO tokens (token_hash, token_tag, number, created, expires) VALUES (?, ?, ?, ?, ?)",
            (hash_secret(dialled), token_tag(dialled), number, now(), until),
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


def _numbers(first: str | None, last: str | None):
    if not first or not last:
        return
    for i in range(int(first), int(last) + 1):
        yield f"{i:0{len(first)}d}"


def phone_account(conn: sqlite3.Connection, mac: str) -> dict:
    """The account the snom `mac` (no YAML names it) gets from the provisioning server, in one
    transaction: the claim bound to it by dialling (its temporary number, if any, is freed now
    that the phone takes the claim), else its temporary number, given now when it has none
    (the lowest free one of the temporary range; the same MAC always gets the same one).
    {"kind": "claimed" or "temporary", "number", "sip_password", "name", "freed"}. Refused when
    the temporary range is full."""
    mac = mac.upper()
    if not MAC_RE.match(mac):
        raise Refused(f"{mac[:20]!r} is not a MAC (12 hex digits)")
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT number, sip_password, display_name FROM claims WHERE mac = ?", (mac,)).fetchone()
        if row is not None:
            gone = conn.execute("SELECT number FROM temporary_numbers WHERE mac = ?", (mac,)).fetchone()
            conn.execute("DELETE FROM temporary_numbers WHERE mac = ?", (mac,))
            conn.execute("COMMIT")
            return {
                "kind": "claimed",
                "number": row[0],
                "sip_password": row[1],
                "name": row[2] or row[0],
                "freed": gone[0] if gone else None,
            }
        row = conn.execute("SELECT number, sip_password FROM temporary_numbers WHERE mac = ?", (mac,)).fetchone()
        if row is None:
            conf = settings(conn)
            held = {r[0] for r in conn.execute("SELECT number FROM temporary_numbers")}
            free = next(
                (n for n in _numbers(conf.get("temporary_first"), conf.get("temporary_last")) if n not in held), None
            )
            if free is None:
                raise Refused(
                    f"the temporary range {conf.get('temporary_first', '?')}-{conf.get('temporary_last', '?')} is full"
                )
            row = (free, secrets.token_urlsafe(18))
            conn.execute(
                "INSERT INTO temporary_numbers (number, mac, sip_password, created, expires) VALUES (?, ?, ?, ?, NULL)",
                (row[0], mac, row[1], now()),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return {"kind": "temporary", "number": row[0], "sip_password": row[1], "name": f"Temporary {row[0]}", "freed": None}


class WrongToken(Refused):
    """A token that is no live, unused token of any claim."""


def redeem(conn: sqlite3.Connection, token: str, temporary: str) -> dict:
    """Redeem `token`, dialled by the temporary number `temporary`: the claim whose live,
    unused token it is is bound to that number's phone (its MAC); the token is used up. The
    temporary number stays until the phone fetches its claim (phone_account frees it), so
    that the phone can be told to (NOTIFY to its endpoint). {"number", "temporary", "mac"}.
    WrongToken for a token that matches none (one scrypt per live token of the same tag:
    about 1 in 256 of the live ones); Refused for a caller that is no temporary
    number of a phone, or a phone that holds a claim already."""
    conf = settings(conn)
    digits = int(conf.get("token_digits", "6"))
    row = conn.execute("SELECT mac FROM temporary_numbers WHERE number = ?", (temporary,)).fetchone()
    if row is None or not row[0]:
        raise Refused(f"{temporary!r} is no temporary number of a phone")
    mac = row[0]
    if conn.execute("SELECT 1 FROM claims WHERE mac = ?", (mac,)).fetchone():
        raise Refused(f"the phone of {temporary} holds a claim already")
    if not (len(token) == digits and token.isdigit()):
        raise WrongToken("not a token")
    stamp = now()
    live = conn.execute(
        "SELECT token_hash, number FROM tokens WHERE used IS NULL AND expires > ?"
        " AND (token_tag = ? OR token_tag IS NULL) ORDER BY created DESC",
        (stamp, token_tag(token)),
    ).fetchall()
    match = next((r for r in live if secret_matches(token, r[0])), None)  # outside the write lock
    if match is None:
        raise WrongToken("no live token matches")
    conn.execute("BEGIN IMMEDIATE")
    used = conn.execute(
        "UPDATE tokens SET used = ? WHERE token_hash = ? AND used IS NULL AND expires > ?", (now(), match[0], stamp)
    ).rowcount
    bound = conn.execute("UPDATE claims SET mac = ? WHERE number = ? AND mac IS NULL", (mac, match[1])).rowcount
    if used != 1 or bound != 1:  # used meanwhile, or the claim is some phone's already
        conn.execute("ROLLBACK")
        raise WrongToken("the token was used meanwhile")
    conn.execute("COMMIT")
    return {"number": match[1], "temporary": temporary, "mac": mac}


def _agi_environment(stdin) -> dict[str, str]:
    env = {}
    for _ in range(200):  # bounded: Asterisk sends a few dozen lines, then an empty one
        line = stdin.readline()
        if not line or not line.strip():
            break
        key, _, value = line.rstrip("\n").partition(":")
        env[key.strip()] = value.strip()
    return env


def _agi_set(stdin, stdout, name: str, value: str) -> None:
    stdout.write(f"SET VARIABLE {name} {value}\n")
    stdout.flush()
    stdin.readline()  # 200 result=1


def source_address(remote: str) -> str:
    """'10.23.0.21:5061' or '[2001:db8::1]:5060' -> the address alone."""
    if remote.startswith("["):
        return remote[1:].split("]", 1)[0]
    return remote.rsplit(":", 1)[0] if remote.count(":") == 1 else remote


def cmd_agi(args) -> None:
    """Asterisk's AGI for a call to the claim code (see the module's docstring): sets TV_CLAIM
    to ok (the claim is bound, the phone told to fetch it), wrong (logged for fail2ban) or
    refused (the caller cannot claim: no temporary number of a phone, or it holds one)."""
    os.umask(0o007)  # a journal SQLite makes stays the group's (the provisioning server's too)
    env = _agi_environment(sys.stdin)
    token = env.get("agi_extension", "")
    source = source_address(args.address)
    result = "refused"
    try:
        got = redeem(connect(args.db), token, args.endpoint)
        result = "ok"
    except WrongToken:
        result = "wrong"
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(f"{now()} {WRONG_TOKEN_LOG.format(number=args.endpoint, source=source)}\n")
    except (Refused, sqlite3.Error) as e:
        print(f"televoc-claims agi: {e}", file=sys.stderr)  # Asterisk's log: no token in it
    if result == "ok":
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(f"{now()} televoc-page: {got['number']} claimed by dialling from {args.endpoint} ({source})\n")
        notify = f"pjsip send notify {args.notify} endpoint {args.endpoint}"
        try:  # the phone fetches its settings again, now its claim's
            subprocess.run(
                [args.asterisk, "-C", args.asterisk_conf, "-rx", notify], capture_output=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f"televoc-claims agi: NOTIFY not sent: {e}", file=sys.stderr)
    _agi_set(sys.stdin, sys.stdout, "TV_CLAIM", result)


def cmd_claim(args) -> dict:
    """Claim a number: its SIP password (given on stdin, else random) and a release secret,
    printed once; the database keeps the release secret hashed."""
    password = sys.stdin.readline().strip() if args.password_from_stdin else None
    if args.name is not None and not NAME_RE.match(args.name):  # before becoming the owner
        raise Refused("a name has 1 to 40 printable characters, without quotes, < or >")
    as_owner(args.db, args.owner)
    return claim(connect(args.db), args.number, args.name, args.kind, args.in_directory, password, token=args.token)


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
    claim.add_argument("--token", action="store_true", help="also a claim token, to dial from the phone")
    sub.add_parser("claim-many")
    release = sub.add_parser("release")
    release.add_argument("number")
    how = release.add_mutually_exclusive_group(required=True)
    how.add_argument("--secret-from-stdin", action="store_true")
    how.add_argument("--by-crew", action="store_true")
    sub.add_parser("export")
    sub.add_parser("remove")
    agi = sub.add_parser("agi")
    agi.add_argument("--log", required=True, help="where a wrong token is logged (the page's log: its jail)")
    agi.add_argument("--notify", required=True, help="pjsip_notify.conf's check-sync")
    agi.add_argument("--asterisk", default="asterisk")
    agi.add_argument("--asterisk-conf", default="/etc/asterisk/asterisk.conf")
    agi.add_argument("endpoint")
    agi.add_argument("address")
    args = parser.parse_args(argv)
    commands = {
        "read": cmd_read,
        "migrate": cmd_migrate,
        "claim": cmd_claim,
        "claim-many": cmd_claim_many,
        "release": cmd_release,
        "export": cmd_export,
        "remove": cmd_remove,
        "agi": cmd_agi,
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
