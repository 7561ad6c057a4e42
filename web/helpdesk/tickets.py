"""Tickets: a resident leaves a message with a callback number; staff close tickets when done."""

from __future__ import annotations

from dataclasses import dataclass

from web.chat.handoff import HandoffEvent, Mode
from web.db.store import Store
from web.db.tables import OrderType, Role, TicketKind
from web.helpdesk.workorders import WorkOrders

LEFT_MESSAGE = "已收到您的留言，工作人员会按您留的电话回电。"


@dataclass(frozen=True)
class LeftMessage:
    ticket: int
    mode: Mode  # the conversation's mode afterwards


def leave_message(store: Store, orders: WorkOrders, session: str, *, phone: str, text: str) -> LeftMessage:
    """Waiting too long or outside staff hours: leave a message with a callback number.

    Four things are written, each in its own transaction as before: a callback ticket,
    a 12345 work order (求助, with its webhook delivery), the conversation leaves the
    queue when it was waiting, and a system message tells the resident.
    """
    conv = store.conversations.find(session)
    ticket = store.tickets.add(TicketKind.CALLBACK, text, conv_id=conv.id, phone=phone)
    orders.create(
        OrderType.HELP,
        text,
        phone=phone,
        conversation=conv.id,
        plate=conv.plate,
        item=conv.item,
        by="resident",
    )
    if conv.mode is Mode.WAITING:
        store.conversations.apply(session, HandoffEvent.LEAVE_MESSAGE)
    store.conversations.add_message(session, Role.SYSTEM, LEFT_MESSAGE, "system")
    return LeftMessage(ticket.id, store.conversations.find(session).mode)
