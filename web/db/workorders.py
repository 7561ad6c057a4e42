"""12345 work orders and the durable outbox of their webhook: every change queues a delivery with it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import aliased

from knowledge.errors import NotFound
from web.db.engine import Database
from web.db.tables import WebhookDelivery, WorkOrder, utcnow


def order_json(o: WorkOrder) -> dict[str, Any]:
    """A work order as the API shows it and the webhook carries it."""
    return {
        "code": o.code,
        "type": o.kind,
        "status": o.status,
        "content": o.content,
        "callback_phone": o.callback_phone,
        "conversation": o.conversation_id,
        "plate": o.plate,
        "item": o.item,
        "department": o.department,
        "reply": o.reply,
        "rating": o.rating,
        "history": o.history,
        "category": o.category,
        "due_on": o.due_on.isoformat() if o.due_on else None,
        "created_at": o.created_at.isoformat(),
        "updated_at": o.updated_at.isoformat(),
    }


Reference = Callable[[str], str]  # a conversation id → the opaque reference the platform gets instead


def _delivery(event: str, data: dict[str, Any], reference: Reference) -> WebhookDelivery:
    """The webhook body: the order as the API shows it, but never our conversation id."""
    conv = data.get("conversation")
    order = {**data, "conversation": reference(conv) if conv else None}
    return WebhookDelivery(
        body=json.dumps({"event": event, "order": order}, ensure_ascii=False), order_code=data.get("code")
    )


class WorkOrderRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, order: WorkOrder, reference: Reference) -> dict[str, Any]:
        """Store a new order and queue its "created" delivery, in one transaction."""
        with self.db.tx() as s:
            s.add(order)
            s.flush()
            data = order_json(order)
            s.add(_delivery("created", data, reference))
        return data

    def get(self, code: str) -> dict[str, Any]:
        with self.db.tx() as s:
            order = s.scalar(select(WorkOrder).where(WorkOrder.code == code))
            if order is None:
                raise NotFound(f"no work order {code}")
            return order_json(order)

    def all(self) -> list[dict[str, Any]]:
        """Newest first."""
        with self.db.tx() as s:
            return [order_json(o) for o in s.scalars(select(WorkOrder).order_by(WorkOrder.id.desc()))]

    def overdue_count(self, today: dt.date, done: frozenset[str]) -> int:
        """Orders past their due day and not yet done (the console's overdue badge)."""
        with self.db.tx() as s:
            rows = s.scalars(select(WorkOrder.id).where(WorkOrder.due_on < today, WorkOrder.status.not_in(done)))
            return len(list(rows))

    def change(self, code: str, step: Callable[[WorkOrder], None], reference: Reference) -> dict[str, Any]:
        """Apply ``step`` to the order and queue its "status" delivery, in one transaction.

        ``step`` raises to refuse the change; then nothing is written.
        """
        with self.db.tx() as s:
            order = s.scalar(select(WorkOrder).where(WorkOrder.code == code))
            if order is None:
                raise NotFound(f"no work order {code}")
            step(order)
            data = order_json(order)
            s.add(_delivery("status", data, reference))
            return data


CLAIM_LEASE = dt.timedelta(seconds=60)  # a copy that dies while sending lets go of its rows after this


@dataclass(frozen=True)
class OutboxHealth:
    """What the webhook outbox holds: waiting to be sent, dead letters, and later events held behind them."""

    pending: int
    dead: int
    held: int
    oldest_pending: dt.datetime | None

    def to_json(self) -> dict[str, object]:
        oldest = self.oldest_pending.isoformat() if self.oldest_pending else None
        return {"pending": self.pending, "dead": self.dead, "held_behind_dead": self.held, "oldest_pending": oldest}


class WebhookRepository:
    """The webhook outbox: pending deliveries survive a restart because they live here.

    Several web copies send from it at once: a row is claimed before it is sent (``FOR UPDATE
    SKIP LOCKED`` on PostgreSQL, then a compare-and-set of ``claimed_until``, which is all SQLite
    needs, its writers being serialised), so no two copies send one row. An order's events go out
    in order: a row waits while an earlier row of its order is undelivered, dead letters included.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, now: dt.datetime, limit: int = 50, lease: dt.timedelta = CLAIM_LEASE) -> list[WebhookDelivery]:
        """Claim due rows (oldest first, at most one per order) for ``lease``; nobody else sends them meanwhile."""
        earlier = aliased(WebhookDelivery)
        row = WebhookDelivery
        blocked = exists().where(
            earlier.order_code == row.order_code, earlier.id < row.id, earlier.delivered_at.is_(None)
        )
        free = or_(row.claimed_until.is_(None), row.claimed_until < now)
        with self.db.tx() as s:
            candidates = list(
                s.scalars(
                    select(row)
                    .where(row.delivered_at.is_(None), row.dead_at.is_(None), row.next_at <= now, free, ~blocked)
                    .order_by(row.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            claimed = []
            for c in candidates:
                taken = s.execute(
                    update(row)
                    .where(row.id == c.id, row.delivered_at.is_(None), free)
                    .values(claimed_until=now + lease)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(c)
            return claimed

    def due(self, now: dt.datetime, limit: int = 50) -> list[WebhookDelivery]:
        """Undelivered rows whose time has come and that are not dead letters, oldest first (a look, no claim)."""
        row = WebhookDelivery
        with self.db.tx() as s:
            return list(
                s.scalars(
                    select(row)
                    .where(row.delivered_at.is_(None), row.dead_at.is_(None), row.next_at <= now)
                    .order_by(row.id)
                    .limit(limit)
                )
            )

    def record_attempt(
        self,
        delivery_id: int,
        error: str | None,
        retry_delay: Callable[[int], float],
        max_attempts: int | None = None,
    ) -> WebhookDelivery | None:
        """Count one attempt: delivered when ``error`` is None, else due again in ``retry_delay(attempts)`` s,
        or a dead letter once ``max_attempts`` are used. The claim ends.

        Returns the row as updated, or None when it is gone.
        """
        with self.db.tx() as s:
            fresh = s.get(WebhookDelivery, delivery_id)
            if fresh is None:
                return None
            fresh.attempts += 1
            fresh.claimed_until = None
            if error is None:
                fresh.delivered_at = utcnow()
            else:
                fresh.last_error = error
                fresh.next_at = utcnow() + dt.timedelta(seconds=retry_delay(fresh.attempts))
                if max_attempts is not None and fresh.attempts >= max_attempts:
                    fresh.dead_at = utcnow()
            return fresh

    def pending(self) -> int:
        with self.db.tx() as s:
            return int(
                s.scalar(select(func.count(WebhookDelivery.id)).where(WebhookDelivery.delivered_at.is_(None))) or 0
            )

    def health(self) -> OutboxHealth:
        row = WebhookDelivery
        with self.db.tx() as s:
            undelivered = row.delivered_at.is_(None)
            pending = s.scalar(select(func.count(row.id)).where(undelivered, row.dead_at.is_(None))) or 0
            dead = s.scalar(select(func.count(row.id)).where(undelivered, row.dead_at.is_not(None))) or 0
            dead_orders = select(row.order_code).where(undelivered, row.dead_at.is_not(None))
            held = (
                s.scalar(
                    select(func.count(row.id)).where(
                        undelivered, row.dead_at.is_(None), row.order_code.in_(dead_orders)
                    )
                )
                or 0
            )
            oldest = s.scalar(select(func.min(row.next_at)).where(undelivered, row.dead_at.is_(None)))
        return OutboxHealth(int(pending), int(dead), int(held), oldest)

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dead letters, oldest first: what a supervisor sees (the order, the event, why it failed)."""
        with self.db.tx() as s:
            rows = s.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.delivered_at.is_(None), WebhookDelivery.dead_at.is_not(None))
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
            out = []
            for r in rows:
                event = json.loads(r.body).get("event", "")
                out.append(
                    {
                        "id": r.id,
                        "order": r.order_code,
                        "event": event,
                        "attempts": r.attempts,
                        "error": r.last_error,
                        "dead_at": r.dead_at,
                    }
                )
            return out

    def revive(self, delivery_id: int | None = None) -> int:
        """Send dead letters again (one, or all): their tries start over. Returns how many."""
        row = WebhookDelivery
        with self.db.tx() as s:
            stmt = update(row).where(row.delivered_at.is_(None), row.dead_at.is_not(None))
            if delivery_id is not None:
                stmt = stmt.where(row.id == delivery_id)
            done = s.execute(stmt.values(dead_at=None, attempts=0, next_at=utcnow(), claimed_until=None))
            return int(done.rowcount)  # type: ignore[attr-defined]
