"""Canned replies: team-wide ones (kept by supervisors) and each agent's own."""

from __future__ import annotations

from sqlalchemy import or_, select

from knowledge.errors import NotFound
from web.db.engine import Database
from web.db.tables import CannedReply, utcnow


class CannedReplyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, title: str, body: str, *, owner_id: int | None, created_by: int) -> CannedReply:
        with self.db.tx() as s:
            reply = CannedReply(title=title, body=body, owner_id=owner_id, created_by=created_by)
            s.add(reply)
            return reply

    def get(self, reply_id: int) -> CannedReply:
        with self.db.tx() as s:
            reply = s.get(CannedReply, reply_id)
            if reply is None:
                raise NotFound(f"no canned reply {reply_id}")
            return reply

    def update(self, reply_id: int, title: str, body: str) -> CannedReply:
        with self.db.tx() as s:
            reply = s.get(CannedReply, reply_id)
            if reply is None:
                raise NotFound(f"no canned reply {reply_id}")
            reply.title, reply.body, reply.updated_at = title, body, utcnow()
            return reply

    def delete(self, reply_id: int) -> None:
        with self.db.tx() as s:
            reply = s.get(CannedReply, reply_id)
            if reply is None:
                raise NotFound(f"no canned reply {reply_id}")
            s.delete(reply)

    def usable_by(self, staff_id: int) -> list[CannedReply]:
        """Team-wide replies first, then this agent's own, each by title."""
        with self.db.tx() as s:
            rows = s.scalars(
                select(CannedReply)
                .where(or_(CannedReply.owner_id.is_(None), CannedReply.owner_id == staff_id))
                .order_by(CannedReply.owner_id.is_not(None), CannedReply.title)
            )
            return list(rows)
