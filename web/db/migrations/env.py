"""Alembic environment: runs on the connection web passes in (or MENPAI_DATABASE_URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import web.editor  # registers its tables (guide_versions, guide_reports)
import web.workorders  # noqa: F401  (registers its tables)
from web.db.tables import Base, make_engine

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
