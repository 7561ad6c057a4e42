"""Retention: what is past its days is purged on a schedule (every web copy; a purge is idempotent),
by ``menpai purge`` for an operator, and a WeChat resident who unsubscribes is forgotten at once.

Days come from settings (``MENPAI_RETENTION_*``, ``MENPAI_UPLOAD_RETENTION_DAYS``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from knowledge.settings import Settings
from web.db.engine import in_thread
from web.db.retention import Cutoffs, Purged, RetentionRepository, TrackerEvents, tracker_engine
from web.db.store import Store
from web.db.tables import utcnow

logger = logging.getLogger(__name__)


class Retention:
    """Purges by the settings' days; forgets one resident on request."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.repo = RetentionRepository(store, store.uploads)
        self.trackers = TrackerEvents(tracker_engine(settings.tracker_url))

    def cutoffs(self, now: dt.datetime | None = None) -> Cutoffs:
        now = now or utcnow()
        s = self.settings
        return Cutoffs(
            conversations=now - dt.timedelta(days=s.retention_conversation_days),
            analytics=now - dt.timedelta(days=s.retention_analytics_days),
            trackers=now - dt.timedelta(days=s.retention_tracker_days),
        )

    def purge(self, *, dry_run: bool = False, now: dt.datetime | None = None) -> Purged:
        """Everything past its retention; the counts of what went (or would go, with ``dry_run``)."""
        cut = self.cutoffs(now)
        out = self.repo.purge(cut, dry_run=dry_run, now=now)
        out.add("tracker_events", self.trackers.purge(cut.trackers, dry_run=dry_run))
        if not dry_run and any(out.counts.values()):
            logger.info("retention purge: %s", out.counts)
        return out

    def forget(self, conv: str, openid: str | None = None) -> Purged:
        """A resident who unsubscribed: their conversation, messages, photos, outbox and Rasa tracker."""
        out = self.repo.forget(conv, openid=openid)
        out.add("tracker_events", self.trackers.forget(conv))
        logger.info("a resident's data deleted on request (%s)", out.counts)
        return out

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                await in_thread(self.purge)
            except Exception:  # the database may be away for a moment; the next round tries again
                logger.exception("retention purge failed")
            await asyncio.sleep(interval)
