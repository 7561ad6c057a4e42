"""12345 work orders (工单) and the outbound webhook to an external 12345 platform.

Flow (国办发〔2020〕53号): 受理 → 派单 → 办理 → 回复 → 办结 → 回访 → 评价. Every change is
queued in a durable outbox and pushed to the platform's webhook, HMAC-SHA256 signed,
retried with exponential backoff; pending deliveries survive a restart because
they live in the database, not in memory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import hashlib
import hmac
import json
import logging
import secrets
from typing import Any

import httpx
from sqlalchemy import JSON, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.errors import MenpaiError, NotFound
from web.db.tables import Base, Store, mask_pii, utcnow

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
BACKOFF_BASE = 2.0  # seconds; doubles each attempt, capped at 10 minutes


class OrderType(enum.StrEnum):
    CONSULT = "咨询"
    COMPLAINT = "投诉"
    SUGGESTION = "建议"
    HELP = "求助"


class OrderStatus(enum.StrEnum):
    RECEIVED = "受理"
    DISPATCHED = "派单"
    HANDLING = "办理"
    REPLIED = "回复"
    CLOSED = "办结"
    REVISITED = "回访"
    RATED = "评价"


FLOW = list(OrderStatus)


class IllegalOrderStep(MenpaiError):
    status = 409
    code = "illegal_transition"


class WorkOrder(Base):
    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default=OrderStatus.RECEIVED.value)
    content: Mapped[str] = mapped_column(Text)
    callback_phone: Mapped[str | None] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    plate: Mapped[str | None] = mapped_column(String(16))
    item: Mapped[str | None] = mapped_column(String(48))
    department: Mapped[str | None] = mapped_column(String(64))
    reply: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


def order_json(o: WorkOrder) -> dict[str, Any]:
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
        "created_at": o.created_at.isoformat(),
        "updated_at": o.updated_at.isoformat(),
    }


class WorkOrders:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self,
        kind: OrderType,
        content: str,
        *,
        phone: str | None = None,
        conversation: str | None = None,
        plate: str | None = None,
        item: str | None = None,
        by: str = "system",
    ) -> dict[str, Any]:
        now = utcnow()
        code = now.strftime("%Y%m%d") + secrets.token_hex(3).upper()
        with self.store.tx() as s:
            order = WorkOrder(
                code=code,
                kind=kind.value,
                content=mask_pii(content),
                callback_phone=phone,
                conversation_id=conversation,
                plate=plate,
                item=item,
                history=[{"status": OrderStatus.RECEIVED.value, "by": by, "at": now.isoformat()}],
            )
            s.add(order)
            s.flush()
            data = order_json(order)
            s.add(WebhookDelivery(body=json.dumps({"event": "created", "order": data}, ensure_ascii=False)))
        return data

    def get(self, code: str) -> dict[str, Any]:
        with self.store.tx() as s:
            order = s.scalar(select(WorkOrder).where(WorkOrder.code == code))
            if order is None:
                raise NotFound(f"no work order {code}")
            return order_json(order)

    def all(self) -> list[dict[str, Any]]:
        with self.store.tx() as s:
            return [order_json(o) for o in s.scalars(select(WorkOrder).order_by(WorkOrder.id.desc()))]

    def advance(
        self,
        code: str,
        to: OrderStatus,
        *,
        by: str,
        department: str | None = None,
        reply: str | None = None,
        rating: int | None = None,
    ) -> dict[str, Any]:
        """Move one step along the flow (no skipping, no going back)."""
        with self.store.tx() as s:
            order = s.scalar(select(WorkOrder).where(WorkOrder.code == code))
            if order is None:
                raise NotFound(f"no work order {code}")
            current = OrderStatus(order.status)
            if FLOW.index(to) != FLOW.index(current) + 1:
                raise IllegalOrderStep(f"a work order that is {current.value} cannot go to {to.value}")
            if to is OrderStatus.DISPATCHED and not department:
                raise IllegalOrderStep("派单 needs the department it goes to")
            if to is OrderStatus.REPLIED and not reply:
                raise IllegalOrderStep("回复 needs the reply text")
            if to is OrderStatus.RATED and rating not in (1, 2, 3, 4, 5):
                raise IllegalOrderStep("评价 needs a rating from 1 to 5")
            order.status = to.value
            order.department = department or order.department
            order.reply = mask_pii(reply) if reply else order.reply
            order.rating = rating or order.rating
            order.updated_at = utcnow()
            order.history = [*order.history, {"status": to.value, "by": by, "at": order.updated_at.isoformat()}]
            data = order_json(order)
            s.add(WebhookDelivery(body=json.dumps({"event": "status", "order": data}, ensure_ascii=False)))
            return data


def sign_body(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Pushes the durable outbox to the 12345 platform; safe to run in every web copy."""

    def __init__(self, store: Store, url: str, secret: str, client: httpx.AsyncClient | None = None) -> None:
        self.store = store
        self.url = url
        self.secret = secret
        self.client = client or httpx.AsyncClient(timeout=5.0)

    async def run_once(self) -> int:
        """Try every due delivery once; returns how many were delivered."""
        now = utcnow()
        with self.store.tx() as s:
            due = list(
                s.scalars(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.delivered_at.is_(None),
                        WebhookDelivery.next_at <= now,
                        WebhookDelivery.attempts < MAX_ATTEMPTS,
                    )
                    .order_by(WebhookDelivery.id)
                    .limit(50)
                )
            )
        delivered = 0
        for row in due:
            body = row.body.encode()
            ts = str(int(now.timestamp()))
            headers = {
                "Content-Type": "application/json",
                "X-Menpai-Timestamp": ts,
                "X-Menpai-Signature": "sha256=" + sign_body(self.secret, ts, body),
                "X-Menpai-Delivery": str(row.id),
            }
            error = None
            try:
                r = await self.client.post(self.url, content=body, headers=headers)
                if r.status_code >= 300:
                    error = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                error = repr(exc)
            with self.store.tx() as s:
                fresh = s.get(WebhookDelivery, row.id)
                if fresh is None:
                    continue
                fresh.attempts += 1
                if error is None:
                    fresh.delivered_at = utcnow()
                    delivered += 1
                else:
                    fresh.last_error = error
                    delay = min(600.0, BACKOFF_BASE * 2 ** (fresh.attempts - 1))
                    fresh.next_at = utcnow() + dt.timedelta(seconds=delay)
                    logger.warning("12345 webhook delivery %s failed (%s); retry in %.0fs", row.id, error, delay)
        return delivered

    async def run_forever(self, interval: float = 2.0) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # keep the loop alive; the outbox keeps the work
                logger.exception("12345 webhook loop")
            await asyncio.sleep(interval)

    def pending(self) -> int:
        with self.store.tx() as s:
            return len(list(s.scalars(select(WebhookDelivery.id).where(WebhookDelivery.delivered_at.is_(None)))))
