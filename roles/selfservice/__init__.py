"""Self-service's database on the PBX: claims, temporary numbers, tokens (schema.py: Alembic's
migrations as SQL; files/claimsdb.py: the command on the PBX; render.py: what a deploy keeps
there; state.py: what the run's read found; deploy.py: the steps)."""

from .deploy import (
    ALL_SETTINGS,
    SETTINGS,
    claims_exported,
    claims_respected,
    database_migrated,
    database_removed,
    held,
    snapshot_commands,
)
from .render import (
    CLAIMSDB,
    PAGE,
    PAGE_JAIL_REGEX,
    PAGE_TEMPLATES,
    TEMPLATES_FILE,
    TOOL_NAME,
    Database,
    PageService,
    claimable,
    database,
    page_service,
    page_templates,
)
from .state import DbState

__all__ = [
    "ALL_SETTINGS",
    "CLAIMSDB",
    "PAGE",
    "PAGE_JAIL_REGEX",
    "PAGE_TEMPLATES",
    "TEMPLATES_FILE",
    "PageService",
    "page_service",
    "page_templates",
    "PAGE",
    "PAGE_JAIL_REGEX",
    "PAGE_TEMPLATES",
    "TEMPLATES_FILE",
    "PageService",
    "page_service",
    "page_templates",
    "SETTINGS",
    "TOOL_NAME",
    "Database",
    "DbState",
    "claimable",
    "claims_exported",
    "claims_respected",
    "database",
    "database_migrated",
    "database_removed",
    "held",
    "snapshot_commands",
]
