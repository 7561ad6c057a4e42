"""Deleting what is past its retention, and everything of one resident who asked to be forgotten.

One transaction per purge. A conversation goes with its messages, named turns, outbox texts and
photos; tickets, ratings and 12345 work orders stay (staff and the county's records) but lose
their link to it. Rasa's tracker lives in the bot's own database (``TrackerEvents``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from web.db.engine import Database
from web.db.tables import (
    AnalyticsEvent,
    ChatTurn,
    Conversation,
    Message,
    Outbox,
    Rating,
    Ticket,
    Upload,
    WeChatInbound,
    WorkOrder,
)
from web.db.uploads import UploadRepository

logger = logging.getLogger(__name__)


@dataclass
class Purged:
    """How many of each were deleted (or, in a dry run, would be)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(n)


@dataclass(frozen=True)
class Cutoffs:
    """Older than these is purged."""

    conversations: dt.datetime
    analytics: dt.datetime
    trackers: dt.datetime


def _count(s: Session, stmt: Any) -> int:
    return int(s.scalar(stmt) or 0)


class RetentionRepository:
    def __init__(self, db: Database, uploads: UploadRepository) -> None:
        self.db = db
        self.uploads = uploads

    def purge(self, cutoffs: Cutoffs, *, dry_run: bool = False, now: dt.datetime | None = None) -> Purged:
        """Conversations without a message since the cutoff (whole), analytics details, expired photos."""
        out = Purged()
        with self.db.tx() as s:
            old = select(Conversation.id).where(Conversation.updated_at < cutoffs.conversations)
            ids = list(s.scalars(old))
            self._conversations(s, ids, out, dry_run)
            details = (AnalyticsEvent.created_at < cutoffs.analytics, AnalyticsEvent.detail.is_not(None))
            out.add("analytics_details", _count(s, select(func.count(AnalyticsEvent.id)).where(*details)))
            if not dry_run:
                s.execute(update(AnalyticsEvent).where(*details).values(detail=None))
            # WeChat's de-duplication rows keep the reply made; a retry never comes this late.
            old_inbound = WeChatInbound.created_at < cutoffs.conversations
            out.add("wechat_inbound", _count(s, select(func.count()).select_from(WeChatInbound).where(old_inbound)))
            if not dry_run:
                s.execute(delete(WeChatInbound).where(old_inbound))
        if dry_run:
            with self.db.tx() as s:
                expired = select(func.count(Upload.id)).where(Upload.expires_at <= (now or dt.datetime.now(dt.UTC)))
                out.add("uploads", _count(s, expired))
        else:
            out.add("uploads", self.uploads.purge_expired(now))
        return out

    def forget(self, conv_id: str, *, openid: str | None = None) -> Purged:
        """Everything stored of one conversation (a WeChat resident who unsubscribed)."""
        out = Purged()
        with self.db.tx() as s:
            self._conversations(s, [conv_id], out, dry_run=False)
            if openid:
                mine = WeChatInbound.key.like(f"evt:{openid}:%")  # events are keyed by the sender
                out.add("wechat_inbound", _count(s, select(func.count()).select_from(WeChatInbound).where(mine)))
                s.execute(delete(WeChatInbound).where(mine))
        return out

    def _conversations(self, s: Session, ids: list[str], out: Purged, dry_run: bool) -> None:
        """Delete these conversations with what hangs on them; counts in ``out``."""
        owned: list[tuple[Any, Any]] = [
            (Upload, Upload.conversation_id),
            (Outbox, Outbox.conversation_id),
            (ChatTurn, ChatTurn.conversation_id),
            (Message, Message.conversation_id),
        ]
        linked: list[tuple[Any, Any]] = [
            (Ticket, Ticket.conversation_id),
            (Rating, Rating.conversation_id),
            (WorkOrder, WorkOrder.conversation_id),
        ]
        names = {Upload: "uploads_of_chats", Outbox: "outbox", ChatTurn: "chat_turns", Message: "messages"}
        out.add("conversations", 0)
        for name in names.values():
            out.add(name, 0)
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            out.add(
                "conversations",
                _count(s, select(func.count()).select_from(Conversation).where(Conversation.id.in_(chunk))),
            )
            for table, column in owned:
                out.add(names[table], _count(s, select(func.count()).select_from(table).where(column.in_(chunk))))
            if dry_run:
                continue
            for row in s.scalars(select(Upload).where(Upload.conversation_id.in_(chunk))):
                (self.uploads.folder / row.path).unlink(missing_ok=True)
            for table, column in owned:
                s.execute(delete(table).where(column.in_(chunk)))
            for table, column in linked:
                s.execute(update(table).where(column.in_(chunk)).values(conversation_id=None))
            s.execute(delete(Conversation).where(Conversation.id.in_(chunk)))


def tracker_engine(url: str) -> Engine:
    """An engine on Rasa's tracker database (its URL as bot/serve.py reads it)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    connect_args = {"timeout": 15} if url.startswith("sqlite") else {}
    return create_engine(url, connect_args=connect_args)


class TrackerEvents:
    """Rasa's SQL tracker store (table ``events``: sender_id, timestamp, …), as far as deleting goes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _missing(self) -> bool:
        """A SQLite tracker file that does not exist (Rasa never ran): nothing to purge, and nothing to create."""
        url = self.engine.url
        return url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists())

    def _run(self, where: str, params: dict[str, object], dry_run: bool) -> int:
        if self._missing():
            return 0
        try:
            with self.engine.begin() as conn:
                n = int(conn.execute(text(f"SELECT count(*) FROM events WHERE {where}"), params).scalar() or 0)
                if not dry_run and n:
                    conn.execute(text(f"DELETE FROM events WHERE {where}"), params)
                return n
        except SQLAlchemyError as exc:  # no tracker database yet (Rasa never ran), or no events table
            logger.warning("Rasa tracker store not purged: %s", exc.__class__.__name__)
            return 0

    def purge(self, before: dt.datetime, *, dry_run: bool = False) -> int:
        return self._run("timestamp < :t", {"t": before.timestamp()}, dry_run)

    def forget(self, sender_id: str) -> int:
        return self._run("sender_id = :s", {"s": sender_id}, False)
