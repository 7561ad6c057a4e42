"""Conversations: their messages, the handoff transitions between bot and staff, and chat turns."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from knowledge.errors import NotFound
from web.chat.handoff import HandoffEvent, IllegalTransition, Mode, transition
from web.db.engine import Database
from web.db.tables import AnalyticsEvent, ChatOffer, ChatTurn, Conversation, FirstResponse, Message, Role, utcnow
from web.privacy import mask_pii


def new_session_id() -> str:
    """A new conversation (chat session) id."""
    return uuid.uuid4().hex


class TurnStart(NamedTuple):
    """Where a conversation stood when a resident's message arrived."""

    mode: Mode
    plate: str | None
    item: str | None = None  # the item the conversation is about (the last one answered)
    full: bool = False  # the conversation already held ``at_most`` resident messages: nothing was stored


class ConversationRepository:
    """One short transaction per call.

    Args:
        on_change: called with a conversation id after a committed change a resident may be waiting for.
    """

    def __init__(self, db: Database, on_change: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.on_change = on_change or (lambda _conv_id: None)

    # ---- conversations and messages

    def get_or_create(self, conv_id: str, channel: str = "web", plate: str | None = None) -> Conversation:
        with self.db.tx() as s:
            conv = s.get(Conversation, conv_id)
            if conv is None:
                conv = Conversation(id=conv_id, channel=channel, plate=plate, mode=Mode.BOT)
                s.add(conv)
            elif plate and not conv.plate:
                conv.plate = plate
            return conv

    def owner_of(self, conv_id: str) -> tuple[bool, str | None]:
        """(whether the conversation exists, its owner): what every chat message checks first,
        with a plain SELECT of one column instead of loading the row through the ORM."""
        with self.db.engine.connect() as conn:
            row = conn.execute(select(Conversation.owner).where(Conversation.id == conv_id)).first()
        return (False, None) if row is None else (True, row.owner)

    def maybe(self, conv_id: str) -> Conversation | None:
        with self.db.tx() as s:
            return s.get(Conversation, conv_id)

    def find(self, conv_id: str) -> Conversation:
        with self.db.tx() as s:
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
        with self.db.tx() as s:
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

    def latest_owned(self, owner: str) -> str | None:
        """The id of the web chat this owner used last, if any."""
        with self.db.engine.connect() as conn:
            return conn.execute(
                select(Conversation.id)
                .where(Conversation.owner == owner, Conversation.channel == "web")
                .order_by(Conversation.updated_at.desc())
                .limit(1)
            ).scalar()

    def open_turn(
        self,
        conv_id: str,
        text: str,
        *,
        channel: str = "web",
        plate: str | None = None,
        owner: str | None = None,
        client_msg_id: str | None = None,
        at_most: int | None = None,
    ) -> TurnStart:
        """A resident's message, in one transaction with its conversation (created on first use).

        With ``owner`` (web chats), a new conversation is created with it and an existing one
        must have it: else NotFound, and nothing is written (two clients racing for one new id).

        With ``client_msg_id`` (a named turn, claimed in ``chat_turns``), the message's id is kept on
        the turn in the same transaction; a retry that takes the turn over stores the words once.

        With ``at_most``, a conversation that already holds that many resident messages stores
        nothing and says so (``full``), counted in the same transaction.

        A chat turn writes the database twice, here and in close_turn, with plain
        statements instead of the ORM's unit of work (it is the hot path).
        """
        now = utcnow()
        for attempt in range(2):
            try:
                with self.db.engine.begin() as conn:
                    row = conn.execute(
                        select(Conversation.mode, Conversation.plate, Conversation.item, Conversation.owner).where(
                            Conversation.id == conv_id
                        )
                    ).first()
                    if row is not None and owner is not None and row.owner != owner:
                        raise NotFound(f"no conversation {conv_id}")
                    if row is None:
                        conn.execute(
                            insert(Conversation),
                            {
                                "id": conv_id,
                                "channel": channel,
                                "owner": owner,
                                "plate": plate,
                                "mode": Mode.BOT,
                                "updated_at": now,
                            },
                        )
                        start = TurnStart(Mode.BOT, plate)
                    else:
                        if at_most is not None and self._resident_count(conn, conv_id) >= at_most:
                            return TurnStart(row.mode, row.plate or plate, row.item, full=True)
                        start = TurnStart(row.mode, row.plate or plate, row.item)
                        values: dict[str, Any] = {"updated_at": now}
                        if plate and not row.plate:
                            values["plate"] = plate
                        conn.execute(update(Conversation).where(Conversation.id == conv_id).values(values))
                    stored = None
                    if client_msg_id is not None:
                        stored = conn.execute(
                            select(ChatTurn.message_id).where(
                                ChatTurn.conversation_id == conv_id, ChatTurn.client_msg_id == client_msg_id
                            )
                        ).scalar()
                    if stored is None:  # a named turn taken over keeps the words its first try stored
                        added = conn.execute(
                            insert(Message),
                            {
                                "conversation_id": conv_id,
                                "role": Role.RESIDENT,
                                "kind": "text",
                                "text": mask_pii(text),
                            },
                        )
                        if client_msg_id is not None:
                            new_id = added.inserted_primary_key[0]  # type: ignore[index]
                            conn.execute(
                                update(ChatTurn)
                                .where(ChatTurn.conversation_id == conv_id, ChatTurn.client_msg_id == client_msg_id)
                                .values(message_id=new_id)
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
        analytics events (rows from ``web.db.analytics.event_row``), in one transaction."""
        with self.db.engine.begin() as conn:
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
        with self.db.tx() as s:
            rows = s.execute(select(Message.conversation_id, Message.text).where(Message.id.in_(latest)))
            return {conv_id: text for conv_id, text in rows}

    def last_resident_ids(self, conv_ids: list[str]) -> dict[str, int]:
        """Each conversation's newest resident message id (the console notices new ones)."""
        if not conv_ids:
            return {}
        with self.db.tx() as s:
            rows = s.execute(
                select(Message.conversation_id, func.max(Message.id))
                .where(Message.conversation_id.in_(conv_ids), Message.role == Role.RESIDENT)
                .group_by(Message.conversation_id)
            )
            return {conv_id: int(n) for conv_id, n in rows}

    def messages(self, conv_id: str, after: int = 0) -> list[Message]:
        with self.db.tx() as s:
            rows = s.scalars(
                select(Message).where(Message.conversation_id == conv_id, Message.id > after).order_by(Message.id)
            )
            return list(rows)

    def recent(self, conv_id: str, limit: int) -> tuple[list[Message], int]:
        """The last ``limit`` messages, oldest first, and how many came before them (a long chat's page)."""
        with self.db.tx() as s:
            rows = list(
                s.scalars(
                    select(Message).where(Message.conversation_id == conv_id).order_by(Message.id.desc()).limit(limit)
                )
            )
            rows.reverse()
            earlier = 0
            if len(rows) == limit:
                earlier = int(
                    s.scalar(
                        select(func.count(Message.id)).where(
                            Message.conversation_id == conv_id, Message.id < rows[0].id
                        )
                    )
                    or 0
                )
            return rows, earlier

    def resident_messages(self, conv_id: str) -> int:
        """How many messages the resident has written in this conversation."""
        with self.db.engine.connect() as conn:
            return self._resident_count(conn, conv_id)

    @staticmethod
    def _resident_count(conn: Any, conv_id: str) -> int:
        return int(
            conn.execute(
                select(func.count(Message.id)).where(Message.conversation_id == conv_id, Message.role == Role.RESIDENT)
            ).scalar()
            or 0
        )

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
        with self.db.tx() as s:
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
            if event_ is HandoffEvent.CLAIM and conv.waiting_since is not None:
                # The first-response clock: from the queue to a person taking it (the resident is told).
                since = conv.waiting_since if conv.waiting_since.tzinfo else conv.waiting_since.replace(tzinfo=dt.UTC)
                now = values["claimed_at"]
                seconds = max(0, int((now - since).total_seconds()))
                s.add(
                    FirstResponse(
                        conversation_id=conv_id,
                        staff_id=staff_id,
                        waiting_since=since,
                        responded_at=now,
                        seconds=seconds,
                    )
                )
            if new is not Mode.WAITING:  # an offer lives only while the chat waits
                s.execute(delete(ChatOffer).where(ChatOffer.conversation_id == conv_id))
            if announce is not None:
                s.add(Message(conversation_id=conv_id, role=Role.SYSTEM, kind=announce[1], text=announce[0]))
        self.on_change(conv_id)
        return new

    def queue(self) -> list[Conversation]:
        with self.db.tx() as s:
            rows = s.scalars(
                select(Conversation).where(Conversation.mode == Mode.WAITING).order_by(Conversation.waiting_since)
            )
            return list(rows)

    def active_chats(self, staff_id: int | None = None) -> list[Conversation]:
        with self.db.tx() as s:
            q = select(Conversation).where(Conversation.mode == Mode.AGENT)
            if staff_id is not None:
                q = q.where(Conversation.agent_id == staff_id)
            return list(s.scalars(q.order_by(Conversation.claimed_at)))

    def queue_position(self, conv_id: str) -> int:
        """1-based place in the waiting queue, 0 when not waiting."""
        ids = [c.id for c in self.queue()]
        return ids.index(conv_id) + 1 if conv_id in ids else 0

    def resolved_by_agent(self) -> Counter[int]:
        """How many conversations each staff member (by id) took over and resolved."""
        with self.db.tx() as s:
            convs = list(s.scalars(select(Conversation).where(Conversation.agent_id.is_not(None))))
        return Counter(c.agent_id for c in convs if c.mode is Mode.RESOLVED and c.agent_id is not None)
