"""Agents' presence (在线 / 忙碌 / 离开) and the chats offered to them, and first-response waits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from web.chat.handoff import Mode
from web.db.engine import Database
from web.db.tables import AgentPresence, ChatOffer, Conversation, FirstResponse, Presence, Staff, StaffRole, utcnow


class PresenceRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set(self, staff_id: int, state: Presence, max_chats: int | None = None, *, set_limit: bool = False) -> None:
        """Set an agent's state (and, with ``set_limit``, their own chat limit; None = the default).

        Going busy or away takes back the chats offered to them and not yet taken.
        """
        with self.db.tx() as s:
            row = s.get(AgentPresence, staff_id)
            if row is None:
                row = AgentPresence(staff_id=staff_id, state=state)
                s.add(row)
            row.state = state
            row.updated_at = utcnow()
            if set_limit:
                row.max_chats = max_chats
            if state is not Presence.ONLINE:
                s.execute(delete(ChatOffer).where(ChatOffer.staff_id == staff_id))

    def of(self, staff_id: int) -> AgentPresence | None:
        with self.db.tx() as s:
            return s.get(AgentPresence, staff_id)

    def all(self) -> dict[int, AgentPresence]:
        with self.db.tx() as s:
            return {p.staff_id: p for p in s.scalars(select(AgentPresence))}

    def pick(
        self, conv_id: str, roles: frozenset[StaffRole], default_limit: int, exclude: int | None = None
    ) -> int | None:
        """Offer a waiting chat to the next online agent with room, round-robin; their id, or None.

        Room: the agent's chats plus the chats offered to them stay under their limit. The next
        agent is the one offered a chat longest ago (never offered: first). One transaction, so
        the offer and the agent's turn move together.
        """
        with self.db.tx() as s:
            conv = s.get(Conversation, conv_id)
            if conv is None or conv.mode is not Mode.WAITING:
                return None
            load: dict[int, int] = {}
            for staff_id, n in s.execute(
                select(Conversation.agent_id, func.count())
                .where(Conversation.mode == Mode.AGENT, Conversation.agent_id.is_not(None))
                .group_by(Conversation.agent_id)
            ):
                if staff_id is not None:
                    load[staff_id] = load.get(staff_id, 0) + n
            for staff_id, n in s.execute(select(ChatOffer.staff_id, func.count()).group_by(ChatOffer.staff_id)):
                load[staff_id] = load.get(staff_id, 0) + n
            online = s.execute(
                select(AgentPresence, Staff.role)
                .join(Staff, Staff.id == AgentPresence.staff_id)
                .where(AgentPresence.state == Presence.ONLINE, Staff.active.is_(True))
            ).all()
            candidates = [
                p
                for p, role in online
                if role in roles
                and p.staff_id != exclude
                and load.get(p.staff_id, 0) < (p.max_chats if p.max_chats is not None else default_limit)
            ]
            if not candidates:
                return None
            epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
            chosen = min(candidates, key=lambda p: (_aware(p.last_offered_at) or epoch, p.staff_id))
            now = utcnow()
            chosen.last_offered_at = now
            offer = s.get(ChatOffer, conv_id)
            if offer is None:
                s.add(ChatOffer(conversation_id=conv_id, staff_id=chosen.staff_id, offered_at=now))
            else:
                offer.staff_id, offer.offered_at = chosen.staff_id, now
            return chosen.staff_id

    def online(self, roles: frozenset[StaffRole]) -> int:
        """How many active staff of these roles are 在线."""
        with self.db.tx() as s:
            rows = s.execute(
                select(Staff.role)
                .join(AgentPresence, AgentPresence.staff_id == Staff.id)
                .where(AgentPresence.state == Presence.ONLINE, Staff.active.is_(True))
            ).scalars()
            return sum(1 for role in rows if role in roles)

    def offers(self, staff_id: int | None = None) -> dict[str, int]:
        """Waiting chat id → the agent it is offered to."""
        with self.db.tx() as s:
            q = select(ChatOffer)
            if staff_id is not None:
                q = q.where(ChatOffer.staff_id == staff_id)
            return {o.conversation_id: o.staff_id for o in s.scalars(q)}

    def stale_offers(self, older_than: dt.datetime) -> list[ChatOffer]:
        with self.db.tx() as s:
            return list(s.scalars(select(ChatOffer).where(ChatOffer.offered_at < older_than)))

    def unoffered_waiting(self) -> list[str]:
        """Waiting chats offered to nobody, longest waiting first."""
        with self.db.tx() as s:
            offered = select(ChatOffer.conversation_id)
            return list(
                s.scalars(
                    select(Conversation.id)
                    .where(Conversation.mode == Mode.WAITING, Conversation.id.not_in(offered))
                    .order_by(Conversation.waiting_since)
                )
            )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back; they were stored as UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class FirstResponseRepository:
    """Waits from the queue to a staff member taking the chat (written by the claim itself)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def since(self, start: dt.datetime) -> list[FirstResponse]:
        with self.db.tx() as s:
            return list(
                s.scalars(select(FirstResponse).where(FirstResponse.waiting_since >= start).order_by(FirstResponse.id))
            )
