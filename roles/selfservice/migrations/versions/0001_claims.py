"""Claims, temporary numbers, tokens; Asterisk's realtime views of the claims.

Revision ID: 0001
Revises:
Create Date: 2026-12-07

Asterisk reads PJSIP's endpoints, auths and aors of claimed numbers from the views
ps_endpoints, ps_auths and ps_aors (sorcery's realtime wizard through res_config_sqlite3,
or res_config_pgsql): the columns are the options of pjsip.conf, as in Asterisk's own
realtime schema (contrib/ast-db-manage). The views read the claims and the settings every
claimed number shares (endpoint_defaults, written by the deploy from the event directory),
so a claim is one row and a deploy never rewrites one. A claim past its `expires` leaves the
views by itself. Times are text in UTC, 'YYYY-MM-DDTHH:MM:SSZ' (ordered as text).
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Options every claimed number's endpoint takes from endpoint_defaults (the deploy writes
# them: the same as the crew phones' template in pjsip.conf).
ENDPOINT_DEFAULTS = (
    "transport",
    "context",
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
    """Now, in UTC, as the tables write times."""
    if op.get_context().dialect.name == "postgresql":
        return "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    return "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"


def _default(option: str) -> str:
    return f"(SELECT value FROM endpoint_defaults WHERE option = '{option}') AS {option}"


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("number", sa.Text, primary_key=True),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("in_directory", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("sip_password", sa.Text, nullable=False),
        sa.Column("release_hash", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("expires", sa.Text, nullable=True),
        sa.CheckConstraint("kind IN ('snom', 'softphone', 'other')", name="claims_kind"),
    )
    op.create_table(
        "temporary_numbers",
        sa.Column("number", sa.Text, primary_key=True),
        sa.Column("mac", sa.Text, nullable=True, unique=True),
        sa.Column("sip_password", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("expires", sa.Text, nullable=True),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("number", sa.Text, sa.ForeignKey("claims.number", ondelete="CASCADE"), nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("expires", sa.Text, nullable=False),
        sa.Column("used", sa.Text, nullable=True),
    )
    op.create_table(  # what the deploy says of the event: the claimable range, how long a claim lasts
        "settings",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "endpoint_defaults",
        sa.Column("option", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    live = f"(expires IS NULL OR expires > {_now()})"
    endpoint = ", ".join(_default(o) for o in ENDPOINT_DEFAULTS)
    op.execute(
        "CREATE VIEW ps_endpoints AS SELECT number AS id, number AS aors, number AS auth, "
        "'\"' || COALESCE(display_name, number) || '\" <' || number || '>' AS callerid, "
        f"{endpoint} FROM claims WHERE {live}"
    )
    op.execute(
        "CREATE VIEW ps_auths AS SELECT number AS id, 'userpass' AS auth_type, number AS username, "
        f"sip_password AS password FROM claims WHERE {live}"
    )
    aor = ", ".join(_default(o) for o in AOR_DEFAULTS)
    op.execute(f"CREATE VIEW ps_aors AS SELECT number AS id, {aor} FROM claims WHERE {live}")


def downgrade() -> None:
    raise NotImplementedError("televoc never migrates down: a claim is never dropped")
