"""The audit log: who opened a transcript, exported work orders or looked something up, when, from where."""

from __future__ import annotations

from sqlalchemy import select

from web.db.engine import Database
from web.db.tables import AuditEntry


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, *, staff_id: int | None, username: str, action: str, target: str, ip: str) -> None:
        with self.db.tx() as s:
            s.add(AuditEntry(staff_id=staff_id, username=username, action=action, target=target[:200], ip=ip[:64]))

    def latest(self, limit: int = 200) -> list[AuditEntry]:
        """Newest first."""
        with self.db.tx() as s:
            return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
