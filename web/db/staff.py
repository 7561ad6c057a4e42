"""Staff accounts: help-desk agents, supervisors, 12345 hotline agents and content editors."""

from __future__ import annotations

from sqlalchemy import select

from web.db.engine import Database
from web.db.tables import Staff, StaffRole


class StaffRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, username: str, name: str, role: StaffRole, password_hash: str) -> Staff:
        with self.db.tx() as s:
            staff = Staff(username=username, name=name, role=role, password_hash=password_hash)
            s.add(staff)
            return staff

    def by_username(self, username: str) -> Staff | None:
        with self.db.tx() as s:
            return s.scalar(select(Staff).where(Staff.username == username))

    def get(self, staff_id: int) -> Staff | None:
        with self.db.tx() as s:
            return s.get(Staff, staff_id)

    def all(self) -> list[Staff]:
        with self.db.tx() as s:
            return list(s.scalars(select(Staff).order_by(Staff.id)))

    def set_password(self, staff_id: int, password_hash: str) -> None:
        with self.db.tx() as s:
            staff = s.get(Staff, staff_id)
            if staff is not None:
                staff.password_hash = password_hash
