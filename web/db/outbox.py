"""The WeChat outbox: every text for a resident outside a passive reply lives here until it is sent.

A late answer or a staff reply is written first, then sent; a web restart loses none (each copy
sweeps what is due at startup and every few seconds). A row is claimed before it is sent —
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, then a compare-and-set of ``claimed_until`` — so two
copies never send one text twice. Held rows (WeChat 45015: outside the 48-hour window) wait for
the resident's next message and go out with its reply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update

from web.db.engine import Database
from web.db.tables import Outbox, utcnow

CLAIM_LEASE = dt.timedelta(seconds=60)  # a copy that dies while sending lets go after this


@dataclass(frozen=True)
class Kept:
    """A text claimed for sending."""

    id: int
    text: str
    held: bool
    attempts: int


class OutboxRepository:
    """Texts for WeChat residents, kept until sent."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, conv_id: str, text: str, *, held: bool = False) -> int:
        with self.db.tx() as s:
            row = Outbox(conversation_id=conv_id, text=text, held=held, next_at=utcnow())
            s.add(row)
            s.flush()
            return row.id

    def claim(self, conv_id: str, *, lease: dt.timedelta = CLAIM_LEASE) -> list[Kept]:
        """Every unsent text of a conversation nobody else is sending (held ones too), oldest first, claimed."""
        now = utcnow()
        free = or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now)
        with self.db.tx() as s:
            rows = list(
                s.scalars(
                    select(Outbox)
                    .where(Outbox.conversation_id == conv_id, Outbox.delivered.is_(False), free)
                    .order_by(Outbox.id)
                    .with_for_update(skip_locked=True)
                )
            )
            out = []
            for r in rows:
                taken = s.execute(
                    update(Outbox)
                    .where(Outbox.id == r.id, Outbox.delivered.is_(False), free)
                    .values(claimed_until=now + lease)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    out.append(Kept(r.id, r.text, r.held, r.attempts))
            return out

    def take(self, conv_id: str) -> list[str]:
        """The unsent texts, oldest first, marked delivered (they go out with the passive reply being made)."""
        kept = self.claim(conv_id)
        self.sent([k.id for k in kept])
        return [k.text for k in kept]

    def sent(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.db.tx() as s:
            s.execute(
                update(Outbox)
                .where(Outbox.id.in_(ids))
                .values(delivered=True, claimed_until=None)
                .execution_options(synchronize_session=False)
            )

    def hold(self, ids: list[int], error: str) -> None:
        """Keep for the resident's next message (it cannot be sent before)."""
        with self.db.tx() as s:
            s.execute(
                update(Outbox)
                .where(Outbox.id.in_(ids))
                .values(held=True, claimed_until=None, last_error=error, attempts=Outbox.attempts + 1)
                .execution_options(synchronize_session=False)
            )

    def retry(self, ids: list[int], error: str, delay: float) -> None:
        """Send again in ``delay`` seconds (the WeChat API could not be reached)."""
        with self.db.tx() as s:
            s.execute(
                update(Outbox)
                .where(Outbox.id.in_(ids))
                .values(
                    claimed_until=None,
                    last_error=error,
                    attempts=Outbox.attempts + 1,
                    next_at=utcnow() + dt.timedelta(seconds=delay),
                )
                .execution_options(synchronize_session=False)
            )

    def due(self, limit: int = 100) -> list[str]:
        """Conversations with a text to send now (not held, not claimed, its time come)."""
        now = utcnow()
        with self.db.tx() as s:
            return list(
                s.scalars(
                    select(Outbox.conversation_id)
                    .where(
                        Outbox.delivered.is_(False),
                        Outbox.held.is_(False),
                        or_(Outbox.next_at.is_(None), Outbox.next_at <= now),
                        or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now),
                    )
                    .group_by(Outbox.conversation_id)
                    .order_by(func.min(Outbox.id))
                    .limit(limit)
                )
            )

    def unsent(self, conv_id: str | None = None) -> int:
        with self.db.tx() as s:
            q = select(func.count(Outbox.id)).where(Outbox.delivered.is_(False))
            if conv_id is not None:
                q = q.where(Outbox.conversation_id == conv_id)
            return int(s.scalar(q) or 0)
