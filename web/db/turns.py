"""Named chat turns: a turn the widget retries (same ``client_msg_id``) is answered once, with the same JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from web.db.engine import Database
from web.db.tables import ChatTurn, utcnow

KEEP = dt.timedelta(days=1)  # a retry comes within seconds; a day is plenty
STALE = dt.timedelta(seconds=20)  # a turn unanswered this long has lost its process (a turn takes seconds)
PURGE_EVERY = dt.timedelta(minutes=5)


class TurnRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._purged = dt.datetime.min.replace(tzinfo=dt.UTC)

    def claim(self, conv_id: str, client_msg_id: str) -> bool:
        """True when this request answers the turn: the first with this id in this chat, or a retry taking
        over a turn that failed or whose process died (``STALE``); False while another is answering it."""
        now = utcnow()
        if now - self._purged > PURGE_EVERY:
            self._purged = now
            with self.db.tx() as s:
                s.execute(delete(ChatTurn).where(ChatTurn.created_at < now - KEEP))
        try:
            with self.db.tx() as s:
                s.add(ChatTurn(conversation_id=conv_id, client_msg_id=client_msg_id, created_at=now))
            return True
        except IntegrityError:
            pass
        # A turn still unanswered long after it began lost its web process (killed, restarted), or
        # failed and let go: this retry takes it over (compare-and-set, so only one retry does).
        with self.db.tx() as s:
            taken = s.execute(
                update(ChatTurn)
                .where(
                    ChatTurn.conversation_id == conv_id,
                    ChatTurn.client_msg_id == client_msg_id,
                    ChatTurn.reply.is_(None),
                    ChatTurn.created_at < now - STALE,
                )
                .values(created_at=now)
                .execution_options(synchronize_session=False)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def reply(self, conv_id: str, client_msg_id: str) -> tuple[bool, dict[str, Any] | None]:
        """(is there such a turn, its reply JSON once answered)."""
        with self.db.engine.connect() as conn:
            row = conn.execute(
                select(ChatTurn.reply).where(
                    ChatTurn.conversation_id == conv_id, ChatTurn.client_msg_id == client_msg_id
                )
            ).first()
        return (False, None) if row is None else (True, row.reply)

    def finish(self, conv_id: str, client_msg_id: str, reply: dict[str, Any]) -> None:
        with self.db.tx() as s:
            row = s.get(ChatTurn, (conv_id, client_msg_id))
            if row is not None:
                row.reply = reply

    def release(self, conv_id: str, client_msg_id: str) -> None:
        """The turn failed: a retry may answer it at once (it keeps the resident message already stored)."""
        with self.db.tx() as s:
            s.execute(
                update(ChatTurn)
                .where(
                    ChatTurn.conversation_id == conv_id,
                    ChatTurn.client_msg_id == client_msg_id,
                    ChatTurn.reply.is_(None),
                )
                .values(created_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
                .execution_options(synchronize_session=False)
            )
