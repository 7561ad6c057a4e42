"""Agency requests (帮办代办): someone does it for (or with) the resident; found by a code (web.db.codes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from knowledge.errors import NotFound
from web.db.codes import MAX_TRIES, new_code, normalize_code
from web.db.engine import Database
from web.db.tables import AgencyRequest, AgencyStatus, utcnow
from web.privacy import mask_pii


class AgencyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, **fields: Any) -> AgencyRequest:
        """Store a request under a fresh code (another one when the code is taken)."""
        for attempt in range(MAX_TRIES):
            try:
                with self.db.tx() as s:
                    req = AgencyRequest(code=new_code(), **fields)
                    s.add(req)
                return req
            except IntegrityError:
                if attempt == MAX_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def by_code(self, code: str) -> AgencyRequest:
        """The request a resident's code names (spaces, dashes, case and look-alikes forgiven)."""
        with self.db.tx() as s:
            req = s.scalar(select(AgencyRequest).where(AgencyRequest.code == normalize_code(code)))
            if req is None:
                raise NotFound(f"no request with code {code}")
            return req

    def all(self) -> list[AgencyRequest]:
        with self.db.tx() as s:
            return list(s.scalars(select(AgencyRequest).order_by(AgencyRequest.id.desc())))

    def update(self, code: str, status: AgencyStatus, note: str | None = None) -> AgencyRequest:
        with self.db.tx() as s:
            req = s.scalar(select(AgencyRequest).where(AgencyRequest.code == normalize_code(code)))
            if req is None:
                raise NotFound(f"no request with code {code}")
            req.status = status
            if note:
                req.staff_note = mask_pii(note)
            req.updated_at = utcnow()
            return req
