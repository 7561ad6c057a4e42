"""Agency requests (帮办代办): someone does it for (or with) the resident; found by a short code."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from knowledge.errors import NotFound
from web.db.engine import Database
from web.db.tables import AgencyRequest, AgencyStatus, utcnow
from web.privacy import mask_pii


class AgencyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, **fields: Any) -> AgencyRequest:
        with self.db.tx() as s:
            req = AgencyRequest(code=secrets.token_hex(3).upper(), **fields)
            s.add(req)
            return req

    def by_code(self, code: str) -> AgencyRequest:
        """The request a resident's code names (spaces and case forgiven)."""
        with self.db.tx() as s:
            req = s.scalar(select(AgencyRequest).where(AgencyRequest.code == code.strip().upper()))
            if req is None:
                raise NotFound(f"no request with code {code}")
            return req

    def all(self) -> list[AgencyRequest]:
        with self.db.tx() as s:
            return list(s.scalars(select(AgencyRequest).order_by(AgencyRequest.id.desc())))

    def update(self, code: str, status: AgencyStatus, note: str | None = None) -> AgencyRequest:
        with self.db.tx() as s:
            req = s.scalar(select(AgencyRequest).where(AgencyRequest.code == code))
            if req is None:
                raise NotFound(f"no request with code {code}")
            req.status = status
            if note:
                req.staff_note = mask_pii(note)
            req.updated_at = utcnow()
            return req
