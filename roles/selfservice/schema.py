"""The self-service database's schema: Alembic's migrations, rendered as SQL for the PBX.

Alembic (maintained with SQLAlchemy; packaged by Debian as python3-alembic and by nixpkgs as
python3Packages.alembic; Asterisk keeps its own realtime schema with it, contrib/ast-db-manage)
holds the migrations in migrations/versions. televoc renders them offline, on the crew's
machine, as the SQL of one transaction from the revision the PBX's database has to the head
(`alembic upgrade FROM:head --sql`); the PBX applies it with Python's own sqlite3 module
(files/claimsdb.py). So the PBX needs no Alembic, no SQLAlchemy, no compiler: only the
Python its provisioning server runs on.

    HEAD                      # the revision a deploy brings the database to
    upgrade_sql(None)         # the SQL that creates the database (from nothing to HEAD)
    upgrade_sql("0001")       # the SQL from 0001 to HEAD ("" when 0001 is HEAD)

Alembic is imported only when SQL is rendered (a database that is at HEAD costs nothing).
"""

from __future__ import annotations

import io
from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (tests/unit/test_selfservice_db.py holds it to
# Alembic's own view of the scripts).
HEAD = "0002"
DIALECTS = ("sqlite", "postgresql")


def _config(dialect: str, output: io.StringIO):
    from alembic.config import Config

    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("dialect", dialect)
    return config


def heads() -> tuple[str, ...]:
    """The head revisions Alembic finds in the scripts (one, unless someone branched)."""
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(_config("sqlite", io.StringIO())).get_heads())


def upgrade_sql(current: str | None, dialect: str = "sqlite") -> str:
    """The SQL that brings a database at revision `current` (None: an empty one) to HEAD, in
    one transaction; "" when it is at HEAD. An unknown `current` (a newer televoc migrated
    it) raises ValueError: an older televoc never touches a newer schema."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r}: televoc renders {', '.join(DIALECTS)}")
    if current == HEAD:
        return ""
    from alembic import command
    from alembic.util import CommandError

    output = io.StringIO()
    config = _config(dialect, output)
    try:
        command.upgrade(config, f"{current}:head" if current else "head", sql=True)
    except CommandError as e:
        raise ValueError(
            f"the database is at revision {current!r}, which this televoc does not know "
            f"(its newest is {HEAD}): deploy with the televoc that migrated it ({e})"
        ) from e
    return output.getvalue()
