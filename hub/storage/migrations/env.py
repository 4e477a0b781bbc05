"""Alembic environment: runs on the connection hub.storage.migrate hands it, or on HUB_CONFIG."""

from __future__ import annotations

from alembic import context

from hub.storage.tables import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # run from the alembic command line
    from hub.config import load_settings
    from hub.storage.engine import Database

    database = Database(load_settings().database_url)
    with database.engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
