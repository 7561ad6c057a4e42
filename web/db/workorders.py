"""12345 work orders and the durable outbox of their webhook: every change queues a delivery with it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

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
    return WebhookDelivery(body=json.dumps({"event": event, "order": order}, ensure_ascii=False))


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


class WebhookRepository:
    """The webhook outbox: pending deliveries survive a restart because they live here."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def due(self, now: dt.datetime, max_attempts: int, limit: int = 50) -> list[WebhookDelivery]:
        """Undelivered rows whose time has come and that have attempts left, oldest first."""
        with self.db.tx() as s:
            return list(
                s.scalars(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.delivered_at.is_(None),
                        WebhookDelivery.next_at <= now,
                        WebhookDelivery.attempts < max_attempts,
                    )
                    .order_by(WebhookDelivery.id)
                    .limit(limit)
                )
            )

    def record_attempt(
        self, delivery_id: int, error: str | None, retry_delay: Callable[[int], float]
    ) -> WebhookDelivery | None:
        """Count one attempt: delivered when ``error`` is None, else due again in ``retry_delay(attempts)`` s.

        Returns the row as updated, or None when it is gone.
        """
        with self.db.tx() as s:
            fresh = s.get(WebhookDelivery, delivery_id)
            if fresh is None:
                return None
            fresh.attempts += 1
            if error is None:
                fresh.delivered_at = utcnow()
            else:
                fresh.last_error = error
                fresh.next_at = utcnow() + dt.timedelta(seconds=retry_delay(fresh.attempts))
            return fresh

    def pending(self) -> int:
        with self.db.tx() as s:
            return len(list(s.scalars(select(WebhookDelivery.id).where(WebhookDelivery.delivered_at.is_(None)))))
