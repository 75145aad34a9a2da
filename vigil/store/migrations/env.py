"""Alembic environment: Store hands over an open connection (config.attributes['connection']);
offline SQL generation is not supported."""

from alembic import context

from vigil.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("vigil migrations run through vigil.store.Store (it passes the connection)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
