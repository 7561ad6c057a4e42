"""Staff sessions (server-side, revocable) and failed logins per username and IP (atomic counters)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from web.db.engine import Database
from web.db.tables import LoginAttempt, StaffSessionRow, utcnow


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class StaffSessionRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, session_id: str, staff_id: int, csrf: str, ip: str) -> StaffSessionRow:
        with self.db.tx() as s:
            now = utcnow()
            row = StaffSessionRow(id=session_id, staff_id=staff_id, csrf=csrf, ip=ip, created_at=now, last_seen=now)
            s.add(row)
            return row

    def get(self, session_id: str) -> StaffSessionRow | None:
        with self.db.tx() as s:
            row = s.get(StaffSessionRow, session_id)
            if row is not None:
                row.created_at, row.last_seen = _aware(row.created_at), _aware(row.last_seen)
            return row

    def touch(self, session_id: str, now: dt.datetime) -> None:
        with self.db.tx() as s:
            s.execute(update(StaffSessionRow).where(StaffSessionRow.id == session_id).values(last_seen=now))

    def delete(self, session_id: str) -> None:
        with self.db.tx() as s:
            s.execute(delete(StaffSessionRow).where(StaffSessionRow.id == session_id))

    def delete_of(self, staff_id: int) -> None:
        """Revoke every session of a staff member (password changed, account closed)."""
        with self.db.tx() as s:
            s.execute(delete(StaffSessionRow).where(StaffSessionRow.staff_id == staff_id))

    def prune(self, created_before: dt.datetime, seen_before: dt.datetime) -> None:
        """Drop sessions past their lifetime or idle too long."""
        with self.db.tx() as s:
            s.execute(
                delete(StaffSessionRow).where(
                    (StaffSessionRow.created_at < created_before) | (StaffSessionRow.last_seen < seen_before)
                )
            )


class LoginAttemptRepository:
    """Failed logins of a username from an IP. Every change is one row update in the database,
    so parallel guesses cannot lose counts (no read-modify-write in Python)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def locked(self, username: str, ip: str, now: dt.datetime) -> bool:
        with self.db.tx() as s:
            until = s.scalar(
                select(LoginAttempt.locked_until).where(LoginAttempt.username == username, LoginAttempt.ip == ip)
            )
            return until is not None and _aware(until) > now

    def fail(self, username: str, ip: str, lock_after: int, lock_for: dt.timedelta) -> None:
        """Count a failed login; the ``lock_after``-th locks the pair for ``lock_for`` and restarts the count."""
        now = utcnow()
        with self.db.tx() as s:
            dialect = s.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            s.execute(
                insert(LoginAttempt)
                .values(username=username, ip=ip, failures=0, updated_at=now)
                .on_conflict_do_nothing(index_elements=["username", "ip"])
            )
            reached = LoginAttempt.failures + 1 >= lock_after
            s.execute(
                update(LoginAttempt)
                .where(LoginAttempt.username == username, LoginAttempt.ip == ip)
                .values(
                    failures=case((reached, 0), else_=LoginAttempt.failures + 1),
                    locked_until=case((reached, now + lock_for), else_=LoginAttempt.locked_until),
                    updated_at=now,
                )
            )

    def clear(self, username: str, ip: str) -> None:
        with self.db.tx() as s:
            s.execute(delete(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.ip == ip))

    def failures(self, username: str, ip: str) -> int:
        with self.db.tx() as s:
            found = s.scalar(
                select(LoginAttempt.failures).where(LoginAttempt.username == username, LoginAttempt.ip == ip)
            )
            return int(found or 0)
