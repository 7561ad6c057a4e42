"""Runtime state in SQL (SQLAlchemy 2): conversations, messages, handoffs, staff,
tickets, agency requests, ratings, analytics.

SQLite file (WAL) by default, PostgreSQL by URL; the schema is created and
upgraded by Alembic migrations (web/db/migrations). Chinese ID and phone numbers
are masked before anything is stored; the resident still sees what they typed.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from knowledge.errors import NotFound
from web.handoff import HandoffEvent, IllegalTransition, Mode, transition

_ID_NUMBER = re.compile(r"(?<![0-9])([1-9]\d{5})(\d{8})(\d{3}[0-9Xx])(?![0-9])")
_PHONE = re.compile(r"(?<![0-9])(1[3-9]\d)(\d{4})(\d{4})(?![0-9])")


def mask_pii(text: str) -> str:
    """Mask Chinese resident ID numbers and mobile numbers (keep the ends)."""
    text = _ID_NUMBER.sub(lambda m: m.group(1) + "********" + m.group(3), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


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


RATING_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="web")
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
    code: Mapped[str] = mapped_column(String(12), unique=True)
    item: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    preferred_time: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))
    plate: Mapped[str | None] = mapped_column(String(16))
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


class Outbox(Base):
    """Text that could not be delivered yet (e.g. WeChat 45015); sent with the next reply."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash of the process; only a power cut may lose the last ones.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the latest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class TurnStart(NamedTuple):
    """Where a conversation stood when a resident's message arrived."""

    mode: Mode
    plate: str | None
    item: str | None = None  # the item the conversation is about (the last one answered)


class Store:
    """Small repository over the SQL database; one short transaction per call."""

    def __init__(self, engine: Engine, on_change: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # Called with a conversation id after a committed change a resident may be waiting for.
        self.on_change = on_change or (lambda _conv_id: None)

    def migrate(self) -> None:
        migrate(self.engine)

    @contextmanager
    def tx(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    # ---- conversations and messages

    def conversation(self, conv_id: str, channel: str = "web", plate: str | None = None) -> Conversation:
        with self.tx() as s:
            conv = s.get(Conversation, conv_id)
            if conv is None:
                conv = Conversation(id=conv_id, channel=channel, plate=plate, mode=Mode.BOT)
                s.add(conv)
            elif plate and not conv.plate:
                conv.plate = plate
            return conv

    def maybe_conversation(self, conv_id: str) -> Conversation | None:
        with self.tx() as s:
            return s.get(Conversation, conv_id)

    def find_conversation(self, conv_id: str) -> Conversation:
        with self.tx() as s:
            conv = s.get(Conversation, conv_id)
            if conv is None:
                raise NotFound(f"no conversation {conv_id}")
            return conv

    def add_message(
        self,
        conv_id: str,
        role: Role,
        text: str,
        kind: str = "text",
        payload: dict[str, Any] | None = None,
        staff_id: int | None = None,
    ) -> Message:
        with self.tx() as s:
            msg = Message(
                conversation_id=conv_id,
                role=role,
                kind=kind,
                text=mask_pii(text),
                payload=payload,
                staff_id=staff_id,
            )
            s.add(msg)
            conv = s.get(Conversation, conv_id)
            if conv is not None:
                conv.updated_at = utcnow()
        self.on_change(conv_id)
        return msg

    def open_turn(self, conv_id: str, text: str, *, channel: str = "web", plate: str | None = None) -> TurnStart:
        """A resident's message, in one transaction with its conversation (created on first use).

        A chat turn writes the database twice, here and in close_turn, with plain
        statements instead of the ORM's unit of work: this runs on the event loop
        that every other conversation waits on.
        """
        now = utcnow()
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    row = conn.execute(
                        select(Conversation.mode, Conversation.plate, Conversation.item).where(
                            Conversation.id == conv_id
                        )
                    ).first()
                    if row is None:
                        conn.execute(
                            insert(Conversation),
                            {"id": conv_id, "channel": channel, "plate": plate, "mode": Mode.BOT, "updated_at": now},
                        )
                        start = TurnStart(Mode.BOT, plate)
                    else:
                        start = TurnStart(row.mode, row.plate or plate, row.item)
                        values: dict[str, Any] = {"updated_at": now}
                        if plate and not row.plate:
                            values["plate"] = plate
                        conn.execute(update(Conversation).where(Conversation.id == conv_id).values(values))
                    conn.execute(
                        insert(Message),
                        {"conversation_id": conv_id, "role": Role.RESIDENT, "kind": "text", "text": mask_pii(text)},
                    )
                break
            except IntegrityError:
                if attempt:  # the conversation row exists now; anything else is a real error
                    raise
        self.on_change(conv_id)
        return start

    def close_turn(
        self,
        conv_id: str,
        replies: list[tuple[str, str, dict[str, Any] | None]],
        *,
        item: str | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> None:
        """The bot's replies (text, kind, payload), the item now talked about and the turn's
        analytics events, in one transaction."""
        with self.engine.begin() as conn:
            if replies:
                conn.execute(
                    insert(Message),
                    [
                        {
                            "conversation_id": conv_id,
                            "role": Role.BOT,
                            "kind": kind,
                            "text": mask_pii(text),
                            "payload": payload,
                        }
                        for text, kind, payload in replies
                    ],
                )
            if replies or item:  # open_turn already stamped updated_at for the resident's words
                values: dict[str, Any] = {"updated_at": utcnow()}
                if item:
                    values["item"] = item
                conn.execute(update(Conversation).where(Conversation.id == conv_id).values(values))
            if events:
                conn.execute(insert(AnalyticsEvent), events)
        if replies:
            self.on_change(conv_id)

    def last_resident_texts(self, conv_ids: list[str]) -> dict[str, str]:
        """Each conversation's latest resident message, in one query (the staff queue lists many)."""
        if not conv_ids:
            return {}
        latest = (
            select(func.max(Message.id))
            .where(Message.conversation_id.in_(conv_ids), Message.role == Role.RESIDENT)
            .group_by(Message.conversation_id)
        )
        with self.tx() as s:
            rows = s.execute(select(Message.conversation_id, Message.text).where(Message.id.in_(latest)))
            return {conv_id: text for conv_id, text in rows}

    def messages(self, conv_id: str, after: int = 0) -> list[Message]:
        with self.tx() as s:
            rows = s.scalars(
                select(Message).where(Message.conversation_id == conv_id, Message.id > after).order_by(Message.id)
            )
            return list(rows)

    # ---- handoff

    def apply(
        self,
        conv_id: str,
        event_: HandoffEvent,
        *,
        staff_id: int | None = None,
        reason: str | None = None,
        announce: tuple[str, str] | None = None,
    ) -> Mode:
        """Apply a handoff event with compare-and-set: only one concurrent caller wins.

        Args:
            announce: (text, kind) of a system message told to the resident, committed in the
                same transaction so a resident never sees the new mode without it.
        """
        with self.tx() as s:
            conv = s.get(Conversation, conv_id)
            if conv is None:
                raise NotFound(f"no conversation {conv_id}")
            current = conv.mode
            new = transition(current, event_)
            values: dict[str, Any] = {"mode": new, "updated_at": utcnow()}
            if new is Mode.WAITING:
                values.update(waiting_since=utcnow(), agent_id=None)
                if reason:
                    values["handoff_reason"] = reason
            if event_ is HandoffEvent.CLAIM or event_ is HandoffEvent.TRANSFER:
                values.update(agent_id=staff_id, claimed_at=utcnow())
            if new is Mode.RESOLVED:
                values["resolved_at"] = utcnow()
            if new is Mode.BOT:
                values.update(agent_id=None, waiting_since=None)
            result = s.execute(
                update(Conversation)
                .where(Conversation.id == conv_id, Conversation.mode == current)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                fresh = s.scalar(select(Conversation.mode).where(Conversation.id == conv_id))
                raise IllegalTransition(fresh or current, event_)
            if announce is not None:
                s.add(Message(conversation_id=conv_id, role=Role.SYSTEM, kind=announce[1], text=announce[0]))
        self.on_change(conv_id)
        return new

    def queue(self) -> list[Conversation]:
        with self.tx() as s:
            rows = s.scalars(
                select(Conversation).where(Conversation.mode == Mode.WAITING).order_by(Conversation.waiting_since)
            )
            return list(rows)

    def active_chats(self, staff_id: int | None = None) -> list[Conversation]:
        with self.tx() as s:
            q = select(Conversation).where(Conversation.mode == Mode.AGENT)
            if staff_id is not None:
                q = q.where(Conversation.agent_id == staff_id)
            return list(s.scalars(q.order_by(Conversation.claimed_at)))

    def queue_position(self, conv_id: str) -> int:
        """1-based place in the waiting queue, 0 when not waiting."""
        ids = [c.id for c in self.queue()]
        return ids.index(conv_id) + 1 if conv_id in ids else 0

    # ---- staff

    def add_staff(self, username: str, name: str, role: StaffRole, password_hash: str) -> Staff:
        with self.tx() as s:
            staff = Staff(username=username, name=name, role=role, password_hash=password_hash)
            s.add(staff)
            return staff

    def staff_by_username(self, username: str) -> Staff | None:
        with self.tx() as s:
            return s.scalar(select(Staff).where(Staff.username == username))

    def staff(self, staff_id: int) -> Staff | None:
        with self.tx() as s:
            return s.get(Staff, staff_id)

    def all_staff(self) -> list[Staff]:
        with self.tx() as s:
            return list(s.scalars(select(Staff).order_by(Staff.id)))

    def login_result(self, staff_id: int, ok: bool, lock_after: int, lock_for: dt.timedelta) -> None:
        with self.tx() as s:
            staff = s.get(Staff, staff_id)
            if staff is None:
                return
            if ok:
                staff.failed_logins = 0
                staff.locked_until = None
            else:
                staff.failed_logins += 1
                if staff.failed_logins >= lock_after:
                    staff.locked_until = utcnow() + lock_for
                    staff.failed_logins = 0

    # ---- tickets, agency requests, ratings

    def add_ticket(self, kind: TicketKind, text: str, conv_id: str | None = None, phone: str | None = None) -> Ticket:
        with self.tx() as s:
            ticket = Ticket(kind=kind, text=mask_pii(text), conversation_id=conv_id, phone=phone)
            s.add(ticket)
            return ticket

    def tickets(self, status: TicketStatus | None = TicketStatus.OPEN) -> list[Ticket]:
        with self.tx() as s:
            q = select(Ticket).order_by(Ticket.id.desc())
            if status is not None:
                q = q.where(Ticket.status == status)
            return list(s.scalars(q))

    def close_ticket(self, ticket_id: int) -> None:
        with self.tx() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id}")
            ticket.status = TicketStatus.DONE

    def add_agency_request(self, **fields: Any) -> AgencyRequest:
        with self.tx() as s:
            req = AgencyRequest(code=secrets.token_hex(3).upper(), **fields)
            s.add(req)
            return req

    def agency_request(self, code: str) -> AgencyRequest:
        with self.tx() as s:
            req = s.scalar(select(AgencyRequest).where(AgencyRequest.code == code.strip().upper()))
            if req is None:
                raise NotFound(f"no request with code {code}")
            return req

    def agency_requests(self) -> list[AgencyRequest]:
        with self.tx() as s:
            return list(s.scalars(select(AgencyRequest).order_by(AgencyRequest.id.desc())))

    def update_agency_request(self, code: str, status: AgencyStatus, note: str | None = None) -> AgencyRequest:
        with self.tx() as s:
            req = s.scalar(select(AgencyRequest).where(AgencyRequest.code == code))
            if req is None:
                raise NotFound(f"no request with code {code}")
            req.status = status
            if note:
                req.staff_note = mask_pii(note)
            req.updated_at = utcnow()
            return req

    def add_rating(self, target: str, level: int, comment: str | None, conv_id: str | None, item: str | None) -> Rating:
        with self.tx() as s:
            rating = Rating(
                target=target,
                level=level,
                comment=mask_pii(comment) if comment else None,
                conversation_id=conv_id,
                item=item,
            )
            s.add(rating)
            return rating

    def ratings(self) -> list[Rating]:
        with self.tx() as s:
            return list(s.scalars(select(Rating).order_by(Rating.id.desc())))

    # ---- WeChat de-duplication and the outbox

    def claim_inbound(self, key: str) -> tuple[bool, str | None]:
        """(True, None) the first time a key is seen; (False, cached reply) for a retry."""
        try:
            with self.tx() as s:
                s.add(WeChatInbound(key=key))
            return True, None
        except IntegrityError:
            with self.tx() as s:
                row = s.get(WeChatInbound, key)
                return False, row.reply if row else None

    def finish_inbound(self, key: str, reply: str) -> None:
        with self.tx() as s:
            row = s.get(WeChatInbound, key)
            if row is not None:
                row.reply = reply

    def add_outbox(self, conv_id: str, text: str) -> None:
        with self.tx() as s:
            s.add(Outbox(conversation_id=conv_id, text=text))

    def take_outbox(self, conv_id: str) -> list[str]:
        with self.tx() as s:
            rows = list(
                s.scalars(
                    select(Outbox)
                    .where(Outbox.conversation_id == conv_id, Outbox.delivered.is_(False))
                    .order_by(Outbox.id)
                )
            )
            for row in rows:
                row.delivered = True
            return [r.text for r in rows]

    # ---- analytics

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
        with self.engine.begin() as conn:
            conn.execute(insert(AnalyticsEvent), event_row(kind, plate=plate, town=town, item=item, detail=detail))

    def count_events(self, kind: str | None = None) -> int:
        with self.tx() as s:
            q = select(func.count(AnalyticsEvent.id))
            if kind:
                q = q.where(AnalyticsEvent.kind == kind)
            return int(s.scalar(q) or 0)


def event_row(
    kind: str, *, plate: str | None = None, town: str | None = None, item: str | None = None, detail: str | None = None
) -> dict[str, Any]:
    """One analytics event as the row Store.record and Store.close_turn insert."""
    return {
        "kind": kind,
        "plate": plate,
        "town": town,
        "item": item,
        "detail": mask_pii(detail)[:500] if detail else None,
        "created_at": utcnow(),
    }


def new_session_id() -> str:
    return uuid.uuid4().hex
