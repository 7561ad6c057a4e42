"""Pre-check verdicts (在线预审): staff's word on each material of a request, one row per material."""

from __future__ import annotations

from sqlalchemy import select

from web.db.engine import Database
from web.db.tables import PrecheckReview, utcnow
from web.privacy import mask_pii


class PrecheckRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def mark(self, agency_code: str, material: int, verdict: str, note: str, staff_id: int | None) -> PrecheckReview:
        """Set (or change) the verdict on one material; the note is masked like everything staff write."""
        with self.db.tx() as s:
            row = s.scalar(
                select(PrecheckReview).where(
                    PrecheckReview.agency_code == agency_code, PrecheckReview.material == material
                )
            )
            if row is None:
                row = PrecheckReview(agency_code=agency_code, material=material)
                s.add(row)
            row.verdict = verdict
            row.note = mask_pii(note.strip())
            row.staff_id = staff_id
            row.updated_at = utcnow()
            return row

    def of_request(self, agency_code: str) -> dict[int, PrecheckReview]:
        with self.db.tx() as s:
            rows = s.scalars(select(PrecheckReview).where(PrecheckReview.agency_code == agency_code))
            return {r.material: r for r in rows}
