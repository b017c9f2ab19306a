"""Alembic environment for the incident store.

Normally run programmatically by ``incident.store.db.upgrade`` which hands over an
open connection in ``config.attributes["connection"]``. Logging is deliberately
not configured here (no ``fileConfig``): the console and CLI own the terminal.

For developers (new revisions): build the configuration with
``incident.store.db.alembic_config(url)`` and call ``alembic.command.revision``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from incident.store.schema import metadata

config = context.config


def _configure(**kw) -> None:
    context.configure(target_metadata=metadata, render_as_batch=True, compare_type=True, **kw)


def run_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
               dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"), poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            _configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
