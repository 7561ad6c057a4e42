"""Analytics events: scans, questions, answers, navigation, unanswered questions (no personal data)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections import deque
from typing import Any

from sqlalchemy import func, insert, select

from web.db.engine import Database
from web.db.tables import AnalyticsEvent, utcnow
from web.privacy import mask_pii

logger = logging.getLogger(__name__)


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


FLUSH_SECONDS = 1.0
FLUSH_ROWS = 500


class AnalyticsRepository:
    """Analytics rows. ``record`` writes at once; ``record_later`` queues the row for the flusher
    (a page view must not wait for a database write) — queued rows are written in batches, read
    back by every query here (which flushes first), and never dropped: shutdown flushes them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: deque[dict[str, Any]] = deque()
        self._flush_lock = threading.Lock()

    def record_later(
        self,
        kind: str,
        *,
        plate: str | None = None,
        town: str | None = None,
        item: str | None = None,
        detail: str | None = None,
    ) -> None:
        self._queue.append(event_row(kind, plate=plate, town=town, item=item, detail=detail))

    @property
    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> int:
        """Write every queued row in one INSERT; on failure the rows go back to the queue."""
        with self._flush_lock:
            rows = []
            while self._queue:
                rows.append(self._queue.popleft())
            if not rows:
                return 0
            try:
                with self.db.engine.begin() as conn:
                    conn.execute(insert(AnalyticsEvent), rows)
            except Exception:
                self._queue.extendleft(reversed(rows))  # kept for the next flush, in order
                raise
            return len(rows)

    async def run_flusher(self, every: float = FLUSH_SECONDS) -> None:
        """Flush the queue every ``every`` seconds (sooner when it holds FLUSH_ROWS), until cancelled."""
        while True:
            waited = 0.0
            while waited < every and len(self._queue) < FLUSH_ROWS:
                await asyncio.sleep(0.05)
                waited += 0.05
            try:
                await asyncio.to_thread(self.flush)
            except Exception:
                logger.exception("analytics flush failed; %d rows kept for the next try", len(self._queue))

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
        self.flush()
        with self.db.tx() as s:
            q = select(func.count(AnalyticsEvent.id))
            if kind:
                q = q.where(AnalyticsEvent.kind == kind)
            return int(s.scalar(q) or 0)

    def since(self, when: dt.datetime) -> list[AnalyticsEvent]:
        self.flush()
        with self.db.tx() as s:
            return list(s.scalars(select(AnalyticsEvent).where(AnalyticsEvent.created_at >= when)))

    def unanswered(self, since: dt.datetime, limit: int) -> list[tuple[str | None, int]]:
        """Questions left unanswered since a time, with how often each was asked, most asked first."""
        self.flush()
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
