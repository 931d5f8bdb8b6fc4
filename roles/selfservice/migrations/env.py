"""Alembic's environment for the self-service database: offline only.

televoc renders each migration as SQL on the crew's machine (`alembic upgrade FROM:head
--sql`, roles/selfservice/schema.py) and the PBX applies that SQL with the Python standard
library: the PBX needs neither Alembic nor SQLAlchemy. The dialect comes from the config's
`dialect` option (sqlite, the default, or postgresql).
"""

from alembic import context

config = context.config
dialect = config.get_main_option("dialect") or "sqlite"

context.configure(
    dialect_name=dialect,
    literal_binds=True,
    transactional_ddl=True,
    # one transaction for the whole upgrade: a half-applied schema never stays behind
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
