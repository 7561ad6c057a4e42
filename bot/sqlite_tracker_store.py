"""Rasa's SQL tracker store, set up for SQLite (run in .venv-bot; bot/serve.py selects it).

Every chat turn loads the conversation's tracker and saves its new events. With
Rasa's defaults on a SQLite file, each save is a rollback-journal commit that
waits for fsync, and each load or save opens a new connection (SQLAlchemy 1.4
gives file databases a NullPool). Rasa does this on its event loop, so while one
turn waits for the disk every other conversation waits too. Here:

- WAL journal with synchronous=NORMAL: a commit appends to the write-ahead log
  without an fsync (the log is synced at checkpoints), and readers never block
  the writer. A power cut can lose the last turns' events; a crash of Rasa
  cannot. That is the right trade for chat trackers.
- Connections are pooled and reused instead of opened per query.
- Loading and saving run Rasa's own queries written once as SQL: building them
  with the ORM on every turn (cache keys, unit of work, an ORM object per stored
  event) cost more than running them. Loading reads only the events' JSON;
  saving counts the stored events with count(id) instead of counting a
  subquery that selects every column. The rows, and so the trackers, are the
  ones Rasa's SQLTrackerStore reads and writes (bot/tests/test_tracker_store.py).

PostgreSQL keeps Rasa's own SQLTrackerStore (serve.py only picks this one for SQLite).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from typing import Any, Dict, Optional, Text

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.pool import QueuePool


def _pragmas(connection: sqlite3.Connection, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")  # another Rasa process writing: wait, do not fail
    cursor.close()


class SQLiteTrackerStore(SQLTrackerStore):
    """SQLTrackerStore on a SQLite file with WAL, relaxed fsync and pooled connections."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        dialect: Text = "sqlite",
        host: Optional[Text] = None,
        port: Optional[int] = None,
        db: Text = "rasa.db",
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        login_db: Optional[Text] = None,
        query: Optional[Dict] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, dialect, host, port, db, username, password, event_broker, login_db, query, **kwargs)
        if self.engine.dialect.name != "sqlite":
            return
        url = self.engine.url
        self.engine.dispose()
        # All access is from Rasa's event-loop thread; check_same_thread is off only
        # because a pooled connection may be handed out from another thread at shutdown.
        self.engine = sa.create_engine(
            url, poolclass=QueuePool, pool_size=2, connect_args={"check_same_thread": False}
        )
        sa.event.listen(self.engine, "connect", _pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    # Rasa's own queries (SQLTrackerStore._event_query and save), written once as SQL:
    # building them with the ORM on every turn cost more than running them.
    _SESSION_START = "SELECT max(timestamp) FROM events WHERE sender_id = ? AND type_name = ?"
    _INSERT = (
        "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )

    def _where(self, conn: Any, sender_id: Text, fetch_events_from_all_sessions: bool) -> tuple[str, tuple]:
        """The events of the latest session (all sessions: every event), as in Rasa's _event_query."""
        if not fetch_events_from_all_sessions:
            start = conn.exec_driver_sql(self._SESSION_START, (sender_id, SessionStarted.type_name)).scalar()
            if start is not None:
                return "sender_id = ? AND timestamp >= ?", (sender_id, start)
        return "sender_id = ?", (sender_id,)

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        with self.engine.connect() as conn:
            where, params = self._where(conn, sender_id, fetch_events_from_all_sessions)
            rows = conn.exec_driver_sql(f"SELECT data FROM events WHERE {where} ORDER BY id", params).all()
        events = [json.loads(data) for (data,) in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events not stored yet (those past the count of the latest session's rows)."""
        await self.stream_events(tracker)
        with self.engine.begin() as conn:
            where, params = self._where(conn, tracker.sender_id, False)
            stored = conn.exec_driver_sql(f"SELECT count(id) FROM events WHERE {where}", params).scalar()
            rows = []
            for event in itertools.islice(tracker.events, int(stored or 0), len(tracker.events)):
                data = event.as_dict()
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                rows.append(
                    (tracker.sender_id, event.type_name, data.get("timestamp"), intent, data.get("name"), json.dumps(data))
                )
            if rows:
                conn.exec_driver_sql(self._INSERT, rows)
