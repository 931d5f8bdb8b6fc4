"""Self-service's database on the PBX: claims, temporary numbers, tokens (schema.py: Alembic's
migrations as SQL; files/claimsdb.py: the command on the PBX; render.py: what a deploy keeps
there; deploy.py: the steps)."""

from .render import CLAIMSDB, TOOL_NAME, Database, database

__all__ = ["CLAIMSDB", "TOOL_NAME", "Database", "database"]
