"""Temporary numbers in Asterisk's realtime views; a claim bound to the phone that dialled it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

A snom that no YAML names gets a temporary number (a row of temporary_numbers, written by
the provisioning server through claimsdb.py): Asterisk serves it from the same views as the
claims, with the context the deploy writes into settings (`temporary_context`: the dialplan
context that says what a temporary number may call). A claim redeemed by dialling its token
records the MAC of the phone that dialled it (claims.mac, one claim per phone), so the
provisioning server gives that phone the claimed account. A token gets a lookup tag (the
first 2 hex digits of its SHA-256: 8 of its ~20 bits): the dialled token is checked by scrypt
against the live tokens of its tag only, not against every live token. The views are made again (SQLite
cannot change a view in place); no row is touched.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# As in 0001 (kept here: a revision never changes once released).
ENDPOINT_DEFAULTS = (
    "transport",
    "disallow",
    "allow",
    "direct_media",
    "rtp_symmetric",
    "force_rport",
    "rewrite_contact",
    "dtmf_mode",
    "language",
    "deny",
    "permit",
)
AOR_DEFAULTS = ("max_contacts", "remove_existing", "qualify_frequency", "qualify_timeout")


def _now() -> str:
    if op.get_context().dialect.name == "postgresql":
        return "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    return "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"


def _default(option: str) -> str:
    return f"(SELECT value FROM endpoint_defaults WHERE option = '{option}') AS {option}"


def upgrade() -> None:
    op.execute("ALTER TABLE claims ADD COLUMN mac TEXT")
    op.execute("CREATE UNIQUE INDEX claims_mac ON claims (mac)")  # NULLs are many; a MAC holds one claim
    op.execute("ALTER TABLE tokens ADD COLUMN token_tag TEXT")  # NULL: a token of before, checked always
    op.execute("CREATE INDEX tokens_tag ON tokens (token_tag)")
    for view in ("ps_endpoints", "ps_auths", "ps_aors"):
        op.execute(f"DROP VIEW {view}")
    live = f"(expires IS NULL OR expires > {_now()})"
    shared = ", ".join(_default(o) for o in ENDPOINT_DEFAULTS)
    claimed_context = _default("context")
    temporary_context = "(SELECT value FROM settings WHERE key = 'temporary_context') AS context"
    op.execute(
        "CREATE VIEW ps_endpoints AS "
        "SELECT number AS id, number AS aors, number AS auth, "
        "'\"' || COALESCE(display_name, number) || '\" <' || number || '>' AS callerid, "
        f"{claimed_context}, {shared} FROM claims WHERE {live} "
        "UNION ALL "
        "SELECT number AS id, number AS aors, number AS auth, "
        "'\"Temporary ' || number || '\" <' || number || '>' AS callerid, "
        f"{temporary_context}, {shared} FROM temporary_numbers WHERE {live}"
    )
    op.execute(
        "CREATE VIEW ps_auths AS "
        f"SELECT number AS id, 'userpass' AS auth_type, number AS username, sip_password AS password "
        f"FROM claims WHERE {live} "
        "UNION ALL "
        f"SELECT number AS id, 'userpass' AS auth_type, number AS username, sip_password AS password "
        f"FROM temporary_numbers WHERE {live}"
    )
    aor = ", ".join(_default(o) for o in AOR_DEFAULTS)
    op.execute(
        f"CREATE VIEW ps_aors AS SELECT number AS id, {aor} FROM claims WHERE {live} "
        f"UNION ALL SELECT number AS id, {aor} FROM temporary_numbers WHERE {live}"
    )


def downgrade() -> None:
    raise NotImplementedError("televoc never migrates down: a claim is never dropped")
