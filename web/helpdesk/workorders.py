"""12345 work orders (工单) and the outbound webhook to an external 12345 platform.

Flow (国办发〔2020〕53号): 受理 → 派单 → 办理 → 回复 → 办结 → 回访 → 评价. Every change is
queued in a durable outbox and pushed to the platform's webhook, HMAC-SHA256 signed,
retried with exponential backoff (capped at 10 minutes); pending deliveries survive a restart
because they live in the database, not in memory. After ``max_attempts`` tries a delivery is a
dead letter: /healthz counts it, supervisors see it and can send it again. An order's events
reach the platform in order, and several web copies never send one twice (rows are claimed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
from functools import partial
from typing import Any

import httpx
from sqlalchemy.exc import IntegrityError

from knowledge.errors import BadRequest, MenpaiError
from knowledge.hours import Clock, SystemClock, WorkingDays, china_today
from web.channels.delivery import Delivery
from web.chat.owner import external_ref
from web.db.codes import MAX_TRIES, new_code, normalize_code
from web.db.engine import in_thread
from web.db.store import Store
from web.db.tables import OrderStatus, OrderType, Role, WorkOrder, utcnow
from web.db.workorders import OutboxHealth
from web.helpdesk.taxonomy import Taxonomy
from web.privacy import mask_pii
from web.render.sentences import SAY

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # the default of MENPAI_HOTLINE_WEBHOOK_MAX_ATTEMPTS
BACKOFF_BASE = 2.0  # seconds; doubles each attempt, capped at 10 minutes

FLOW = list(OrderStatus)
DONE = frozenset({OrderStatus.CLOSED, OrderStatus.REVISITED, OrderStatus.RATED})  # 办结 and after: the clock stops


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class IllegalOrderStep(MenpaiError):
    status = 409
    code = "illegal_transition"


class WorkOrders:
    """Work orders; the webhook carries an opaque reference keyed by ``secret``, never a conversation id.

    Each order is due (``due_on``) its type's working days after 受理 (``taxonomy``, counted in
    ``calendar``); ``overdue`` is read with ``clock``: past that day and not yet 办结.
    """

    def __init__(
        self,
        store: Store,
        secret: str,
        *,
        taxonomy: Taxonomy | None = None,
        calendar: WorkingDays | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.reference = partial(external_ref, secret)
        self.taxonomy = taxonomy or Taxonomy.default()
        self.calendar = calendar or WorkingDays()
        self.clock = clock or SystemClock()

    def with_clock(self, data: dict[str, Any]) -> dict[str, Any]:
        """The order as the API shows it, with ``overdue`` as of now."""
        due = data.get("due_on")
        done = data["status"] in {s.value for s in DONE}
        today = china_today(self.clock.now())
        overdue = bool(due) and not done and self.calendar.overdue(dt.date.fromisoformat(str(due)), today)
        return {**data, "overdue": overdue, "category_label": self.taxonomy.label(data.get("category"))}

    def create(
        self,
        kind: OrderType,
        content: str,
        *,
        phone: str | None = None,
        conversation: str | None = None,
        plate: str | None = None,
        item: str | None = None,
        category: str | None = None,
        by: str = "system",
    ) -> dict[str, Any]:
        if category and not self.taxonomy.label(category):
            raise BadRequest(f"unknown work-order category {category!r}: see the taxonomy (guides/workorders.yaml)")
        now = utcnow()
        due_on = self.calendar.add(china_today(self.clock.now()), self.taxonomy.due_days(kind))
        for attempt in range(MAX_TRIES):
            order = WorkOrder(
                code=f"{now:%Y%m%d}-{new_code()}",  # the date for people, 80 random bits against guessing
                kind=kind.value,
                content=mask_pii(content),
                callback_phone=phone,
                conversation_id=conversation,
                plate=plate,
                item=item,
                category=category or None,
                due_on=due_on,
                history=[{"status": OrderStatus.RECEIVED.value, "by": by, "at": now.isoformat()}],
            )
            try:
                return self.with_clock(self.store.workorders.add(order, self.reference))
            except IntegrityError:  # the code is taken: draw another
                if attempt == MAX_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def get(self, code: str) -> dict[str, Any]:
        return self.with_clock(self.store.workorders.get(order_code(code)))

    def all(self) -> list[dict[str, Any]]:
        return [self.with_clock(o) for o in self.store.workorders.all()]

    def overdue(self) -> list[dict[str, Any]]:
        return [o for o in self.all() if o["overdue"]]

    def overdue_count(self) -> int:
        return self.store.workorders.overdue_count(china_today(self.clock.now()), frozenset(s.value for s in DONE))

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

        def step(order: WorkOrder) -> None:
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

        return self.with_clock(self.store.workorders.change(order_code(code), step, self.reference))


async def tell_resident(store: Store, delivery: Delivery, order: dict[str, Any]) -> bool:
    """A status change of an order that came from a chat (web or WeChat) goes back to that chat.

    Stored as a system message (the widget's long poll shows it) and sent through the chat's
    delivery channel (WeChat's customer-service API). False when the order has no chat.
    """
    conv_id = order.get("conversation")
    if not conv_id or store.conversations.maybe(conv_id) is None:
        return False
    reply = (
        SAY["order_reply"].format(reply=order["reply"])
        if order["status"] == OrderStatus.REPLIED and order["reply"]
        else ""
    )
    text = SAY["order_status"].format(code=order["code"], status=order["status"], reply=reply)
    store.conversations.add_message(conv_id, Role.SYSTEM, text, "system", {"order": order["code"]})
    await delivery.deliver(conv_id, text)
    return True


def order_code(text: str) -> str:
    """A typed work-order number as stored: ``YYYYMMDD-`` and the code part normalised."""
    date, _, rest = text.strip().partition("-")
    if len(date) == 8 and date.isdigit() and rest:
        return f"{date}-{normalize_code(rest)}"
    return text.strip().upper()


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling, at most 10 minutes."""
    return min(600.0, BACKOFF_BASE * 2 ** (attempts - 1))


def sign_body(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Pushes the durable outbox to the 12345 platform; safe to run in every web copy.

    ``health`` is what the last pass saw of the outbox (pending, dead letters, held behind them),
    so /healthz can show it without a query of its own.
    """

    def __init__(
        self,
        store: Store,
        url: str,
        secret: str,
        client: httpx.AsyncClient | None = None,
        *,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.store = store
        self.url = url
        self.secret = secret
        self.client = client or httpx.AsyncClient(timeout=5.0)
        self.max_attempts = max_attempts
        self.health: OutboxHealth | None = None
        self.checked_at: dt.datetime | None = None

    async def run_once(self) -> int:
        """Claim every due delivery and try it once; returns how many were delivered."""
        now = utcnow()
        due = await in_thread(self.store.webhooks.claim, now)
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
            fresh = await in_thread(self.store.webhooks.record_attempt, row.id, error, retry_delay, self.max_attempts)
            if fresh is None:
                continue
            if error is None:
                delivered += 1
            elif fresh.dead_at is not None:
                logger.error(
                    "12345 webhook delivery %s is a dead letter after %d tries (%s)", row.id, fresh.attempts, error
                )
            else:
                delay = retry_delay(fresh.attempts)
                logger.warning("12345 webhook delivery %s failed (%s); retry in %.0fs", row.id, error, delay)
        return delivered

    async def check(self) -> OutboxHealth:
        self.health = await in_thread(self.store.webhooks.health)
        self.checked_at = utcnow()
        return self.health

    async def run_forever(self, interval: float = 2.0) -> None:
        while True:
            try:
                # An order's next event is claimable once the one before it is delivered: go on at once.
                while await self.run_once():
                    pass
                await self.check()
            except Exception:  # keep the loop alive; the outbox keeps the work
                logger.exception("12345 webhook loop")
            await asyncio.sleep(interval)

    def pending(self) -> int:
        return self.store.webhooks.pending()

    def status(self) -> dict[str, object]:
        """For /healthz: the outbox as the last pass saw it (no query here)."""
        if self.health is None:
            return {"checked_at": None}
        return {**self.health.to_json(), "checked_at": self.checked_at.isoformat() if self.checked_at else None}
