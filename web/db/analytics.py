"""Analytics events: scans, questions, answers, navigation, unanswered questions (no personal data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, insert, select

from web.db.engine import Database
from web.db.tables import AnalyticsEvent, utcnow
from web.privacy import mask_pii


def event_row(
    kind: str, *, plate: str | None = None, town: str | None = None, item: str | None = None, detail: str | None = None
) -> dict[str, Any]:
    """One analytics event as the row AnalyticsRepository.record and ConversationRepository.close_turn insert."""
    return {
        "kind": kind,
        "plate": plate,
        "town": town,
        "item": item,
        "detail": mask_pii(detail)[:500] if detail else None,
        "created_at": utcnow(),
    }


class AnalyticsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        kind: str,
        *,
        plate: str | None = None,
        town: str | None = None,
        item: str | None = None,
        detail: str | None = None,
    ) -> None:
        # A plain INSERT, not the ORM unit of work: this runs on every page view.
        with self.db.engine.begin() as conn:
            conn.execute(insert(AnalyticsEvent), event_row(kind, plate=plate, town=town, item=item, detail=detail))

    def count(self, kind: str | None = None) -> int:
        with self.db.tx() as s:
            q = select(func.count(AnalyticsEvent.id))
            if kind:
                q = q.where(AnalyticsEvent.kind == kind)
            return int(s.scalar(q) or 0)

    def since(self, when: dt.datetime) -> list[AnalyticsEvent]:
        with self.db.tx() as s:
            return list(s.scalars(select(AnalyticsEvent).where(AnalyticsEvent.created_at >= when)))

    def unanswered(self, since: dt.datetime, limit: int) -> list[tuple[str | None, int]]:
        """Questions left unanswered since a time, with how often each was asked, most asked first."""
        with self.db.tx() as s:
            rows = s.execute(
                select(AnalyticsEvent.detail, func.count(AnalyticsEvent.id))
                .where(
                    AnalyticsEvent.kind == "unanswered",
                    AnalyticsEvent.created_at >= since,
                    AnalyticsEvent.detail.is_not(None),
                )
                .group_by(AnalyticsEvent.detail)
                .order_by(func.count(AnalyticsEvent.id).desc())
                .limit(limit)
            ).all()
        return [(text, int(n)) for text, n in rows]
