"""Every table of the runtime state (SQLAlchemy 2, typed) and the enums its columns hold.

Conversations, their messages and named turns, staff, tickets, agency requests, ratings, analytics
events, WeChat de-duplication, replay guard and outbox, 12345 work orders and their webhook outbox,
published guide versions and residents' reports. The schema is created and upgraded by
the Alembic migrations in web/db/migrations; repositories (web/db/*.py) read and write it.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Date, DateTime, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from web.chat.handoff import Mode


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Role(enum.StrEnum):
    RESIDENT = "resident"
    BOT = "bot"
    STAFF = "staff"
    SYSTEM = "system"
    NOTE = "note"  # internal note, staff only


class StaffRole(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    HOTLINE = "hotline"  # 12345 hotline agent: same queue and guides
    EDITOR = "editor"  # content editor: keeps the guides true (/staff/editor)


class TicketKind(enum.StrEnum):
    CALLBACK = "callback"  # left a message with a callback number
    FOLLOW_UP = "follow_up"  # a bad rating, for the supervisor


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


class AgencyStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="web")
    # Web chats: SHA-256 of the credential that created it (web.chat.owner); other channels: None.
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    plate: Mapped[str | None] = mapped_column(String(16), index=True)
    mode: Mapped[Mode] = mapped_column(_enum(Mode), default=Mode.BOT, index=True)
    item: Mapped[str | None] = mapped_column(String(48))
    handoff_reason: Mapped[str | None] = mapped_column(String(16))
    waiting_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    messages: Mapped[list[Message]] = relationship(back_populates="conversation", order_by="Message.id")


class ChatTurn(Base):
    """A web chat turn the widget named (``client_msg_id``): its reply JSON, so a retry gets the same one.

    ``reply`` is None while the turn is being answered; ``created_at`` is when the current answering
    began (a retry takes over a turn left unanswered longer than ``web.db.turns.STALE``). Purged after a day.
    """

    __tablename__ = "chat_turns"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_msg_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # ---- issue 14 (migration 0007): the resident's message this turn stored (written with it), so a
    # retry that takes over a turn whose web process died does not store the words a second time.
    message_id: Mapped[int | None] = mapped_column(Integer)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole))
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[TicketKind] = mapped_column(_enum(TicketKind))
    status: Mapped[TicketStatus] = mapped_column(_enum(TicketStatus), default=TicketStatus.OPEN)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    phone: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgencyRequest(Base):
    """帮办代办: someone does it for (or with) the resident."""

    __tablename__ = "agency_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)  # web.db.codes: XXXX-XXXX-XXXX-XXXX
    item: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    preferred_time: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))
    plate: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="agency")  # AgencyKind (issue 16)
    situation: Mapped[str | None] = mapped_column(String(48))  # the situation whose checklist a pre-check uses
    status: Mapped[AgencyStatus] = mapped_column(_enum(AgencyStatus), default=AgencyStatus.SUBMITTED)
    staff_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Rating(Base):
    """好差评: five levels, 5 = 非常满意 … 1 = 非常不满意."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    target: Mapped[str] = mapped_column(String(16))  # "chat" (after a resolved chat) or "answer"
    item: Mapped[str | None] = mapped_column(String(48))
    level: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnalyticsEvent(Base):
    __tablename__ = "analytics_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    plate: Mapped[str | None] = mapped_column(String(16), index=True)
    town: Mapped[str | None] = mapped_column(String(32))
    item: Mapped[str | None] = mapped_column(String(48), index=True)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class WeChatInbound(Base):
    """Every WeChat message or event seen, by MsgId (events: FromUserName + CreateTime)."""

    __tablename__ = "wechat_inbound"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    reply: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WeChatNonce(Base):
    """A (nonce, timestamp) WeChat signed, seen once: the same pair again is a replay. Purged past the window."""

    __tablename__ = "wechat_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    timestamp: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Outbox(Base):
    """Every text for a WeChat resident outside a passive reply (a late answer, a staff reply), until sent.

    Written before it is sent, so a web restart loses none: ``held`` rows (WeChat 45015, outside
    the 48-hour window) wait for the resident's next message; the others are sent, and retried
    from ``next_at`` by any web copy, which claims them first (``claimed_until``, issue 14).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # ---- issue 14 (migration 0007)
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


# ---- 12345 work orders (工单) and the durable outbox of their webhook


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


class WorkOrder(Base):
    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # YYYYMMDD-XXXX-XXXX-XXXX-XXXX
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
    # Migration 0008 (the help desk's clocks): the category of the county's taxonomy, the due day.
    category: Mapped[str | None] = mapped_column(String(64))
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)


class WebhookDelivery(Base):
    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    # ---- issue 14 (migration 0007): events of one order go out in order; a copy claims a row
    # before sending it; after the allowed tries a row is a dead letter (and holds its order's later ones).
    order_code: Mapped[str | None] = mapped_column(String(32), index=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)


# ---- the editor's loop: published guide versions and residents' reports


class ReportPart(enum.StrEnum):
    """Which part of a guide a resident says is wrong."""

    FEE = "fee"
    MATERIALS = "materials"
    TIME = "time"
    WHERE = "where"
    ONLINE = "online"
    OTHER = "other"


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class GuideVersion(Base):
    """One published text of a guide; the highest version of a code is the one in use."""

    __tablename__ = "guide_versions"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_guide_versions_code_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(48), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column("yaml", Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GuideReport(Base):
    """A resident saying part of a guide is wrong (信息有误), until an editor resolves it."""

    __tablename__ = "guide_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(48), index=True)
    situation: Mapped[str | None] = mapped_column(String(48))
    part: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    client: Mapped[str] = mapped_column(String(32), index=True)  # keyed hash of the IP, for the rate limit
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.OPEN.value, index=True)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


# ---- staff sessions, login attempts and the audit log


class StaffSessionRow(Base):
    """A logged-in staff member's session: the cookie carries a random id, this row its hash.

    Deleting the row (logout, or an idle or too old session) revokes it at once.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's random id
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginAttempt(Base):
    """Failed logins of one username from one IP; locked for a while after too many."""

    __tablename__ = "login_attempts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """Who looked at or took personal data out: a transcript opened, work orders exported, a look-up."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str] = mapped_column(String(64))


# ---- residents' channels (issue 16): appointments, uploaded photos, online pre-checks


class AgencyKind(enum.StrEnum):
    """What a 帮办 request asks for."""

    AGENCY = "agency"  # 帮办代办: someone does it for (or with) the resident
    HOME = "home"  # 上门办: staff come to the plate's address (elderly, disabled)
    PRECHECK = "precheck"  # 在线预审: the resident sends photos of the materials before the trip


class Verdict(enum.StrEnum):
    """Staff's word on one material of a pre-check."""

    OK = "ok"  # 合格
    MISSING = "missing"  # 缺
    FIX = "fix"  # 需补正


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class AppointmentSlot(Base):
    """How many are booked in one half-hour of one item group at one hall (the capacity is in guides/slots.yaml).

    ``slot`` is the local (China) start time, ``YYYY-MM-DD HH:MM``. A booking raises ``booked`` with
    ``UPDATE … WHERE booked < capacity``: two bookings of the last place cannot both win.
    """

    __tablename__ = "appointment_slots"

    hall: Mapped[str] = mapped_column(String(48), primary_key=True)
    group: Mapped[str] = mapped_column("item_group", String(48), primary_key=True)
    slot: Mapped[str] = mapped_column(String(16), primary_key=True)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class Appointment(Base):
    """预约: a resident's half-hour at a hall, found by a short code (and the phone, to cancel)."""

    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # XXXX-XXXX (web.db.codes, 40 bits)
    hall: Mapped[str] = mapped_column(String(48), index=True)
    group: Mapped[str] = mapped_column("item_group", String(48))
    item: Mapped[str] = mapped_column(String(48))
    slot: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    plate: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=AppointmentStatus.BOOKED.value)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Upload(Base):
    """A photo a resident sent (a WeChat image during a handoff, a pre-check material), re-encoded.

    The file lives under ``var/uploads/<expires on>/<token>.jpg`` (outside every web root) and is
    deleted, with this row, once ``expires_at`` has passed (``MENPAI_UPLOAD_RETENTION_DAYS``).
    """

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "wechat" or "precheck"
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    agency_code: Mapped[str | None] = mapped_column(String(24), index=True)
    material: Mapped[int | None] = mapped_column(Integer)  # index in the request's checklist
    path: Mapped[str] = mapped_column(String(200))  # relative to the uploads folder
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class PrecheckReview(Base):
    """Staff's verdict on one material of a pre-check request (合格 / 缺 / 需补正, with a note)."""

    __tablename__ = "precheck_reviews"
    __table_args__ = (UniqueConstraint("agency_code", "material", name="uq_precheck_reviews_code_material"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(String(24), index=True)
    material: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---- the help desk a county runs on (migration 0008): presence and offers, first responses,
# canned replies, 好差评 rectification tasks


class Presence(enum.StrEnum):
    ONLINE = "online"  # 在线: offered new handoffs
    BUSY = "busy"  # 忙碌: keeps their chats, offered nothing new
    AWAY = "away"  # 离开: offered nothing, never assigned


class AgentPresence(Base):
    """An agent's availability; no row is 离开 (away)."""

    __tablename__ = "agent_presence"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    state: Mapped[Presence] = mapped_column(_enum(Presence), default=Presence.AWAY)
    max_chats: Mapped[int | None] = mapped_column(Integer)  # None: MENPAI_AGENT_MAX_CHATS
    last_offered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatOffer(Base):
    """A waiting chat offered to one online agent (round-robin); gone once claimed or left."""

    __tablename__ = "chat_offers"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    offered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FirstResponse(Base):
    """One handoff's wait: from entering the queue to a staff member taking it (the resident is told)."""

    __tablename__ = "first_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    waiting_since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    responded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[int] = mapped_column(Integer)


class CannedReply(Base):
    """A reusable reply: team-wide (``owner_id`` None, kept by supervisors) or one agent's own."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    title: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaskState(enum.StrEnum):
    """好差评 rectification (整改): 核实 → 整改 → 反馈 → 回访 → 办结; an appeal waits for a supervisor."""

    VERIFY = "核实"
    RECTIFY = "整改"
    FEEDBACK = "反馈"
    REVISIT = "回访"
    CLOSED = "办结"
    APPEALED = "申诉中"
    VOIDED = "申诉成立"  # a malicious rating, voided by a supervisor


class RatingTask(Base):
    """A bad rating (不满意 or worse) to verify, fix, answer back and revisit, by ``due_on``."""

    __tablename__ = "rating_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    level: Mapped[int] = mapped_column(Integer)
    state: Mapped[TaskState] = mapped_column(_enum(TaskState), default=TaskState.VERIFY, index=True)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    rerating: Mapped[int | None] = mapped_column(Integer)  # the resident's rating at 回访
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    appeal_from: Mapped[str | None] = mapped_column(String(16))  # the state an appeal returns to if refused
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
