"""The outbox: text that could not be delivered to a resident yet, sent with the next reply."""

from __future__ import annotations

from sqlalchemy import select

from web.db.engine import Database
from web.db.tables import Outbox


class OutboxRepository:
    """Text that could not be delivered yet (e.g. WeChat 45015); sent with the next reply."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, conv_id: str, text: str) -> None:
        with self.db.tx() as s:
            s.add(Outbox(conversation_id=conv_id, text=text))

    def take(self, conv_id: str) -> list[str]:
        """The undelivered texts, oldest first, marked delivered."""
        with self.db.tx() as s:
            rows = list(
                s.scalars(
                    select(Outbox)
                    .where(Outbox.conversation_id == conv_id, Outbox.delivered.is_(False))
                    .order_by(Outbox.id)
                )
            )
            for row in rows:
                row.delivered = True
            return [r.text for r in rows]
