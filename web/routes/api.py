"""JSON API used by the widget, tests and other channels."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from knowledge.errors import BadRequest
from knowledge.service import KnowledgeBase
from web.chat import MAX_MESSAGE_CHARS, ChatService
from web.db.conversations import new_session_id
from web.db.store import Store
from web.db.tables import RATING_LABELS, OrderType, Role, TicketKind
from web.delivery import PollArgs, long_poll, poll_args
from web.deps import get_chat, get_kb, get_store, session_from_cookie, with_session_cookie
from web.handoff import HandoffEvent, Mode

router = APIRouter()

PLATE = Field(default=None, max_length=16, pattern=r"^[A-Za-z]{2}\d{6}$")


class AskIn(BaseModel):
    q: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    plate: str | None = PLATE


class Choice(BaseModel):
    kind: Literal["situation", "item"]
    value: str = Field(max_length=64)
    item: str | None = Field(default=None, max_length=64)
    label: str = Field(default="", max_length=200)


class ChatIn(BaseModel):
    # Omitted by the page widget: then the resident's session cookie (or a new session) is used.
    session: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    text: str = Field(default="", max_length=MAX_MESSAGE_CHARS)
    plate: str | None = PLATE
    choice: Choice | None = None


class EventIn(BaseModel):
    kind: Literal["scan", "nav", "online", "help", "share", "print"]
    plate: str | None = PLATE
    item: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=300)


@router.get("/healthz")
async def healthz(request: Request, kb: Annotated[KnowledgeBase, Depends(get_kb)]) -> dict[str, Any]:
    rasa_up = await request.app.state.rasa.healthy()
    return {"status": "ok", "rasa": "up" if rasa_up else "down", "index": kb.index.describe()}


@router.post("/api/ask")
async def ask(
    body: AskIn, kb: Annotated[KnowledgeBase, Depends(get_kb)], store: Annotated[Store, Depends(get_store)]
) -> dict[str, Any]:
    result = await asyncio.to_thread(kb.ask, body.q, plate=body.plate)
    top = result.retrieval.top
    store.analytics.record("question", plate=body.plate, item=top.item if top else None, detail=body.q)
    if result.retrieval.abstain:
        store.analytics.record("unanswered", plate=body.plate, detail=body.q)
    return result.to_json()


@router.post("/api/chat")
async def chat(
    request: Request, response: Response, body: ChatIn, chat: Annotated[ChatService, Depends(get_chat)]
) -> dict[str, Any]:
    cookie = session_from_cookie(request)
    session = body.session or cookie or new_session_id()
    if body.session is None and cookie is None:
        with_session_cookie(response, session)  # the page's plain form and a reload find the chat again
    reply = await chat.turn(
        session, body.text, plate=body.plate, choice=body.choice.model_dump() if body.choice else None
    )
    return {"session": session, **reply.to_json()}


@router.get("/api/chat/{session}/messages")
async def chat_messages(
    request: Request,
    session: str,
    store: Annotated[Store, Depends(get_store)],
    poll: Annotated[PollArgs, Depends(poll_args)],
) -> dict[str, Any]:
    """Staff and system messages after an id, and the conversation's mode.

    With ``wait`` the request is held until there is something new (a message, or
    a mode other than the ``mode`` the caller already shows) or ``wait`` seconds pass:
    the widget's live channel for staff replies.
    """
    notifier = request.app.state.notifier
    return (await long_poll(notifier, store, session, (Role.STAFF, Role.SYSTEM), poll)).to_json()


@router.post("/api/events", status_code=204)
async def events(
    body: EventIn, kb: Annotated[KnowledgeBase, Depends(get_kb)], store: Annotated[Store, Depends(get_store)]
) -> None:
    plate = body.plate.upper() if body.plate else None
    town = kb.library.plates[plate].town if plate in kb.library.plates else None
    store.analytics.record(body.kind, plate=plate, town=town, item=body.item, detail=body.detail)


class LeaveMessageIn(BaseModel):
    phone: str = Field(pattern=r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


@router.post("/api/chat/{session}/leave-message", status_code=201)
async def leave_message(
    request: Request, session: str, body: LeaveMessageIn, store: Annotated[Store, Depends(get_store)]
) -> dict[str, Any]:
    """Waiting too long or outside staff hours: leave a message with a callback number (a ticket)."""
    conv = store.conversations.find(session)
    ticket = store.tickets.add(TicketKind.CALLBACK, body.text, conv_id=conv.id, phone=body.phone)
    request.app.state.workorders.create(
        OrderType.HELP,
        body.text,
        phone=body.phone,
        conversation=conv.id,
        plate=conv.plate,
        item=conv.item,
        by="resident",
    )
    if conv.mode is Mode.WAITING:
        store.conversations.apply(session, HandoffEvent.LEAVE_MESSAGE)
    store.conversations.add_message(session, Role.SYSTEM, "已收到您的留言，工作人员会按您留的电话回电。", "system")
    return {"ticket": ticket.id, "mode": store.conversations.find(session).mode.value}


class RatingIn(BaseModel):
    session: str | None = Field(default=None, max_length=64)
    target: Literal["chat", "answer"]
    item: str | None = Field(default=None, max_length=64)
    level: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=500)


@router.post("/api/rate", status_code=201)
async def rate(body: RatingIn, store: Annotated[Store, Depends(get_store)]) -> dict[str, Any]:
    """好差评: five levels; 不满意 or worse opens a follow-up ticket for the supervisor."""
    conv_id = store.conversations.find(body.session).id if body.session else None
    rating = store.ratings.add(body.target, body.level, body.comment, conv_id, body.item)
    ticket = None
    if body.level <= 2:
        text = f"差评回访：{RATING_LABELS[body.level]}（{body.target} {body.item or ''}）{body.comment or ''}"
        ticket = store.tickets.add(TicketKind.FOLLOW_UP, text, conv_id=conv_id).id
    return {"rating": rating.id, "label": RATING_LABELS[body.level], "follow_up_ticket": ticket}


class AgencyIn(BaseModel):
    item: str = Field(max_length=64)
    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(pattern=r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
    preferred_time: str = Field(min_length=1, max_length=64)
    plate: str | None = PLATE
    address: str = Field(default="", max_length=200)


@router.post("/api/agency", status_code=201)
async def agency(
    body: AgencyIn, kb: Annotated[KnowledgeBase, Depends(get_kb)], store: Annotated[Store, Depends(get_store)]
) -> dict[str, Any]:
    """帮办代办: ask for someone to do it for (or with) you; returns the code to check status."""
    if body.item not in kb.library.guides:
        raise BadRequest(f"unknown item {body.item!r}")
    plate = kb.library.plates.get((body.plate or "").upper())
    address = body.address or (plate.address + (f" {plate.building}" if plate.building else "") if plate else "")
    if not address:
        raise BadRequest("give an address or a door-plate code")
    req = store.agency.add(
        item=body.item,
        name=body.name,
        phone=body.phone,
        preferred_time=body.preferred_time,
        address=address,
        plate=plate.code if plate else None,
    )
    store.analytics.record("help_request", plate=plate.code if plate else None, item=body.item, detail="agency")
    return {"code": req.code, "status": req.status.value}


@router.get("/api/agency/{code}")
async def agency_status(code: str, store: Annotated[Store, Depends(get_store)]) -> dict[str, Any]:
    req = store.agency.by_code(code)
    return {
        "code": req.code,
        "item": req.item,
        "status": req.status.value,
        "note": req.staff_note,
        "updated_at": req.updated_at.isoformat(),
    }
