"""The engine (SQLite file in WAL mode by default, PostgreSQL by URL), migrations and transactions.

Every repository call is synchronous and short. Request handlers run it off the event loop: a
plain ``def`` handler runs in Starlette's thread pool, an ``async def`` one awaits ``in_thread``.
A stalled database then holds the threads that wait for it, never the loop that serves every
other request (``Database.on_loop``: a connection taken on the loop's thread is counted and logged).
Statements that take longer than the statement timeout are cancelled (PostgreSQL
``statement_timeout``, SQLite's busy timeout), and the request gets a 503 in the one error shape.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
P = ParamSpec("P")
T = TypeVar("T")


SQLITE_POOL_SIZE = 40


def make_engine(url: str, *, connect_timeout: float = 5.0, statement_timeout: float = 15.0) -> Engine:
    """An engine whose connections give up after ``connect_timeout`` s and statements after ``statement_timeout`` s."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        busy_ms = int(statement_timeout * 1000)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": statement_timeout},
            pool_timeout=connect_timeout,
            # As many kept connections as worker threads may use at once (anyio's 40): past the
            # default 5, every busy moment opened and closed connections, each with its PRAGMAs.
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=10,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash of the process; only a power cut may lose the last ones.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # A writer waits this long for another's lock, then the statement fails (database is locked).
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect_args["connect_timeout"] = max(1, round(connect_timeout))
    pooled: dict[str, Any] = {} if url.startswith("sqlite") else {"pool_timeout": connect_timeout}  # in-memory SQLite
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **pooled)
    if url.startswith("postgresql"):
        statement_ms = int(statement_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _pg_timeouts(dbapi_conn: Any, _: Any) -> None:
            # Set per connection (not in the URL's options, which may carry a search_path already).
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET statement_timeout = {statement_ms}")
                # A transaction left open by a crashed request does not hold its locks for ever.
                cur.execute(f"SET idle_in_transaction_session_timeout = {max(statement_ms * 6, 60000)}")
            dbapi_conn.commit()

    return engine


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the latest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def on_event_loop() -> bool:
    """True when called on a thread that is running an asyncio event loop right now."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking (database) work in Starlette's thread pool, the one plain ``def`` handlers use."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


class Database:
    """An engine and its sessions; every repository runs one short transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.on_loop = 0  # connections taken on an event loop's thread (each use could freeze it)
        event.listen(engine, "checkout", self._checked_out)

    def _checked_out(self, *_: Any) -> None:
        if on_event_loop():
            self.on_loop += 1
            logger.debug("a database connection taken on the event loop's thread", stack_info=True)

    def migrate(self) -> None:
        migrate(self.engine)

    @contextmanager
    def tx(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session
