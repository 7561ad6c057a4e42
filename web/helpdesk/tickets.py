"""Tickets: a resident leaves a message with a callback number; staff close tickets when done."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.errors import MenpaiError
from web.chat.handoff import HandoffEvent, Mode
from web.db.store import Store
from web.db.tables import OrderType, Role, TicketKind
from web.helpdesk.workorders import WorkOrders

LEFT_MESSAGE = "已收到您的留言，工作人员会按您留的电话回电。"


class NotNow(MenpaiError):
    """Leaving a message while staff are on duty and the chat is not waiting for them."""

    status = 409
    code = "not_waiting"


@dataclass(frozen=True)
class LeftMessage:
    ticket: int
    mode: Mode  # the conversation's mode afterwards


def leave_message(
    store: Store, orders: WorkOrders, session: str, *, phone: str, text: str, on_duty: bool = True
) -> LeftMessage:
    """Waiting too long or outside staff hours: leave a message with a callback number.

    Only then: while staff are on duty (``on_duty``) and the chat is not waiting for them,
    NotNow (409) and nothing is written — one chat cannot open ticket after ticket.

    Four things are written, each in its own transaction as before: a callback ticket,
    a 12345 work order (求助, with its webhook delivery), the conversation leaves the
    queue when it was waiting, and a system message tells the resident.
    """
    conv = store.conversations.find(session)
    if on_duty and conv.mode is not Mode.WAITING:
        raise NotNow("现在工作人员在岗，请在对话里点“找人工帮办”；排队等待时或下班后才能留言回电。")
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
