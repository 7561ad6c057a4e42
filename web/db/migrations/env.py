"""Alembic environment: runs on the connection web passes in (or MENPAI_DATABASE_URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from web.db.engine import make_engine
from web.db.tables import Base  # every table is declared there

config = context.config
target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=connection.dialect.name == "sqlite"
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    from knowledge.settings import Settings

    with make_engine(Settings().db_url).begin() as conn:
        run(conn)
