"""Conversation changes told to every web copy: PostgreSQL LISTEN/NOTIFY.

A copy that commits a change a resident may be waiting for (a staff reply, a mode change)
wakes its own long polls at once (``web.channels.delivery.Notifier``). With several copies
on one PostgreSQL, it also sends ``NOTIFY menpai_conversations, '<copy> <conversation id>'``;
every copy LISTENs on one connection of its own and wakes its waiters for that conversation,
so a resident whose long poll is held by another copy gets the reply in milliseconds rather
than at the poll's next re-read of the database (every 3 s, still there as a safety net).
SQLite has no such thing and needs none: one process writes it.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

CHANNEL = "menpai_conversations"
RECONNECT_SECONDS = (0.5, 1, 2, 5)  # between attempts after the listening connection broke


class ChangeFeed:
    """Publishes conversation changes to the other copies and hands theirs to ``wake``.

    Args:
        engine: the store's engine; on anything but PostgreSQL the feed does nothing.
        wake: called with a conversation id changed by another copy (from the listener thread).
    """

    def __init__(self, engine: Engine, wake: Callable[[str], None]) -> None:
        self.engine = engine
        self.wake = wake
        self.enabled = engine.dialect.name == "postgresql"
        self.copy_id = secrets.token_hex(6)  # our own notifications come back to us: skip them
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self.listening = threading.Event()  # set once LISTEN is in place (tests and health)

    def publish(self, conv_id: str) -> None:
        """Tell the other copies ``conv_id`` changed (after our own commit)."""
        if not self.enabled:
            return
        try:
            with self.engine.connect() as conn:
                conn.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": CHANNEL, "payload": self._payload(conv_id)},
                )
                conn.commit()
        except Exception:  # the others still see it at their next re-read
            logger.warning("NOTIFY for conversation %s failed", conv_id, exc_info=True)

    def _payload(self, conv_id: str) -> str:
        return f"{self.copy_id} {conv_id}"

    def start(self) -> None:
        """LISTEN on a connection of our own, in a daemon thread (PostgreSQL only)."""
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="menpai-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.cancel_safe()  # ends a blocking notifies() wait
            except Exception:
                logger.debug("cancelling the LISTEN connection failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _connect(self) -> Any:
        dialect = self.engine.dialect
        args, kwargs = dialect.create_connect_args(self.engine.url)
        conn = dialect.loaded_dbapi.connect(*args, **{**kwargs, "autocommit": True})
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._conn = self._connect()
                self.listening.set()
                failures = 0
                while not self._stop.is_set():
                    for note in self._conn.notifies(timeout=1.0):
                        self._received(note.payload)
            except Exception:
                self.listening.clear()
                if self._stop.is_set():
                    break
                wait = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                logger.warning("LISTEN %s lost; again in %ss (long polls re-read every 3 s meanwhile)", CHANNEL, wait)
                self._stop.wait(wait)
            finally:
                conn, self._conn = self._conn, None
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        logger.debug("closing the LISTEN connection failed", exc_info=True)

    def _received(self, payload: str) -> None:
        copy, _, conv_id = payload.partition(" ")
        if conv_id and copy != self.copy_id:
            self.wake(conv_id)
