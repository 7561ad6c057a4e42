"""Analytics events: scans, questions, answers, navigation, unanswered questions (no personal data)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections import deque
from dataclasses import dataclass
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

    def summary(self, since: dt.datetime) -> Summary:
        """Counts for the stats page, each one GROUP BY in the database."""
        self.flush()
        return summarize(self.db, since)

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


@dataclass
class Summary:
    """Analytics counted by the database (GROUP BY), never by loading every event."""

    by_kind_day: list[tuple[str, str, int]]  # (kind, China date MM-DD, count)
    by_plate: list[tuple[str, int]]  # scans
    by_town: list[tuple[str, int]]
    by_item: list[tuple[str, int]]  # answers
    unanswered: list[tuple[str, int]]
    referrals: list[tuple[str, int]]  # referral entry id, times asked


def _china_day(dialect: str) -> Any:
    """The event's date in China (UTC+8, no daylight saving) as MM-DD, in this database's SQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", AnalyticsEvent.created_at), "MM-DD")
    return func.strftime("%m-%d", AnalyticsEvent.created_at, "+8 hours")


def _first_word(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.split_part(AnalyticsEvent.detail, " ", 1)
    detail = AnalyticsEvent.detail + " "
    return func.substr(detail, 1, func.instr(detail, " ") - 1)


def summarize(db: Database, since: dt.datetime, top: int = 12) -> Summary:
    """Counts since a time, each one GROUP BY query."""
    e = AnalyticsEvent
    n = func.count(e.id)
    dialect = db.engine.dialect.name
    recent = e.created_at >= since

    def grouped(column: Any, *where: Any, limit: int = top) -> list[tuple[str, int]]:
        q = select(column, n).where(recent, column.is_not(None), *where).group_by(column).order_by(n.desc(), column)
        return [(str(k), int(c)) for k, c in s.execute(q.limit(limit)).all()]

    with db.tx() as s:
        day = _china_day(dialect).label("day")
        kind_day = [
            (str(k), str(d), int(c))
            for k, d, c in s.execute(select(e.kind, day, n).where(recent).group_by(e.kind, day))
        ]
        return Summary(
            by_kind_day=kind_day,
            by_plate=grouped(e.plate, e.kind == "scan"),
            by_town=grouped(e.town),
            by_item=grouped(e.item, e.kind == "answer"),
            unanswered=grouped(e.detail, e.kind == "unanswered", limit=50),
            referrals=grouped(_first_word(dialect), e.kind == "referral", e.detail.is_not(None), limit=30),
        )
