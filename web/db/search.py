"""Finding conversations, tickets, work orders and 帮办 requests by text, plate, phone, code and date.

Read-only queries across those aggregates; what a role may see and the audit entry are the help
desk's (web.helpdesk.search). Every criterion given must match (AND); at most ``LIMIT`` rows a kind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select

from web.db.engine import Database
from web.db.tables import AgencyRequest, Conversation, Message, Ticket, WorkOrder

LIMIT = 50


@dataclass(frozen=True)
class Criteria:
    """What to look for; empty strings are not criteria. ``start``/``end``: a UTC range (a China day)."""

    text: str = ""
    plate: str = ""
    phone: str = ""  # digits only
    code: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def empty(self) -> bool:
        return not (self.text or self.plate or self.phone or self.code or self.start)


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _when(column: Any, c: Criteria) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if c.start is not None:
        out.append(column >= c.start)
    if c.end is not None:
        out.append(column < c.end)
    return out


class SearchRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def conversations(self, c: Criteria) -> list[tuple[Conversation, str]]:
        """(conversation, the first message that matched the text, or "") — no phone field: never by phone."""
        if c.phone:
            return []
        where: list[ColumnElement[bool]] = [*_when(Conversation.created_at, c)]
        if c.plate:
            where.append(Conversation.plate == c.plate)
        if c.code:
            where.append(Conversation.id.like(_like(c.code), escape="\\"))
        with self.db.tx() as s:
            if c.text:
                hits = (
                    select(Message.conversation_id, Message.text)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Message.text.like(_like(c.text), escape="\\"), *where)
                    .order_by(Message.id.desc())
                    .limit(LIMIT * 4)
                )
                first: dict[str, str] = {}
                for conv_id, text in s.execute(hits):
                    first.setdefault(conv_id, text)
                convs = {cv.id: cv for cv in s.scalars(select(Conversation).where(Conversation.id.in_(list(first))))}
                return [(convs[i], t) for i, t in list(first.items())[:LIMIT] if i in convs]
            rows = s.scalars(select(Conversation).where(*where).order_by(Conversation.updated_at.desc()).limit(LIMIT))
            return [(cv, "") for cv in rows]

    def tickets(self, c: Criteria) -> list[Ticket]:
        if c.plate or c.code:
            return []
        where = [*_when(Ticket.created_at, c)]
        if c.text:
            where.append(Ticket.text.like(_like(c.text), escape="\\"))
        if c.phone:
            where.append(Ticket.phone.like(_like(c.phone), escape="\\"))
        with self.db.tx() as s:
            return list(s.scalars(select(Ticket).where(*where).order_by(Ticket.id.desc()).limit(LIMIT)))

    def work_orders(self, c: Criteria) -> list[WorkOrder]:
        where = [*_when(WorkOrder.created_at, c)]
        if c.text:
            pattern = _like(c.text)
            where.append(or_(WorkOrder.content.like(pattern, escape="\\"), WorkOrder.reply.like(pattern, escape="\\")))
        if c.plate:
            where.append(WorkOrder.plate == c.plate)
        if c.phone:
            where.append(WorkOrder.callback_phone.like(_like(c.phone), escape="\\"))
        if c.code:
            where.append(WorkOrder.code.like(_like(c.code), escape="\\"))
        with self.db.tx() as s:
            return list(s.scalars(select(WorkOrder).where(and_(*where)).order_by(WorkOrder.id.desc()).limit(LIMIT)))

    def agency(self, c: Criteria) -> list[AgencyRequest]:
        where = [*_when(AgencyRequest.created_at, c)]
        if c.text:
            pattern = _like(c.text)
            where.append(
                or_(
                    AgencyRequest.address.like(pattern, escape="\\"),
                    AgencyRequest.name.like(pattern, escape="\\"),
                    AgencyRequest.item.like(pattern, escape="\\"),
                    AgencyRequest.staff_note.like(pattern, escape="\\"),
                )
            )
        if c.plate:
            where.append(AgencyRequest.plate == c.plate)
        if c.phone:
            where.append(AgencyRequest.phone.like(_like(c.phone), escape="\\"))
        if c.code:
            where.append(AgencyRequest.code.like(_like(c.code), escape="\\"))
        with self.db.tx() as s:
            return list(s.scalars(select(AgencyRequest).where(*where).order_by(AgencyRequest.id.desc()).limit(LIMIT)))
