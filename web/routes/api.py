"""JSON API used by the widget, tests and other channels."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from knowledge.schema import plate_code
from knowledge.service import KnowledgeBase
from web.api_models import (
    API_ERRORS,
    AgencyOut,
    AgencyStatusOut,
    AskOut,
    ChatOut,
    HealthOut,
    LeftMessageOut,
    MessagesOut,
    RatingOut,
    body,
    json_errors,
)
from web.channels.delivery import Notifier, PollArgs, long_poll, poll_args
from web.chat.rasa import RasaClient
from web.chat.turn import MAX_MESSAGE_CHARS, ChatService, answer_once
from web.db.engine import in_thread
from web.db.store import Store
from web.db.tables import Role
from web.deps import get_chat, get_kb, get_notifier, get_rasa, get_store, owned_chat, web_chat
from web.helpdesk import ratings, tickets
from web.helpdesk.agency import PHONE_PATTERN, AgencyIn, request_agency
from web.helpdesk.deps import Orders
from web.ratelimit import Limit, Throttle, get_throttle, limited

router = APIRouter(responses=API_ERRORS)

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
    # Omitted by the page widget's first message: then the cookie's chat (or a new one) is used.
    # Given, it must be a chat this client owns (web.deps.web_chat): the cookie decides, not the body.
    session: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    text: str = Field(default="", max_length=MAX_MESSAGE_CHARS)
    plate: str | None = PLATE
    choice: Choice | None = None
    # The "找人工帮办" button: an explicit request for a person, not a magic word.
    human: bool = False
    # The widget names each message; a retry with the same id gets the same reply, stored once.
    client_msg_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class EventIn(BaseModel):
    kind: Literal["scan", "nav", "online", "help", "share", "print"]
    plate: str | None = PLATE
    item: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=300)


@router.get("/healthz", responses=body(HealthOut))
async def healthz(
    request: Request, kb: Annotated[KnowledgeBase, Depends(get_kb)], rasa: Annotated[RasaClient, Depends(get_rasa)]
) -> dict[str, Any]:
    """Up, Rasa up or down, the index, and the outboxes as their senders last saw them.

    No database query here: a stalled database does not stall the health check (the outbox
    figures carry the time they were read).
    """
    rasa_up = await rasa.healthy()
    changes = request.app.state.changes
    # "off" on SQLite; "down" while the LISTEN connection reconnects (long polls re-read every 3 s then).
    notify = "off" if not changes.enabled else "listening" if changes.listening.is_set() else "down"
    out: dict[str, Any] = {
        "status": "ok",
        "rasa": "up" if rasa_up else "down",
        "notify": notify,
        "index": kb.index.describe(),
    }
    webhook = request.app.state.webhook
    if webhook is not None:
        out["webhook_outbox"] = webhook.status()
        if webhook.health is not None and webhook.health.dead:
            out["status"] = "degraded"  # dead letters wait for a supervisor
    return out


@router.post("/api/ask", responses=body(AskOut), dependencies=[limited(Limit.ASK_PER_IP)])
async def ask(
    body: AskIn, kb: Annotated[KnowledgeBase, Depends(get_kb)], store: Annotated[Store, Depends(get_store)]
) -> dict[str, Any]:
    result = await asyncio.to_thread(kb.ask, body.q, plate=body.plate)
    top = result.retrieval.top
    # Queued, off the request path (written in batches; never dropped).
    store.analytics.record_later("question", plate=body.plate, item=top.item if top else None, detail=body.q)
    if result.retrieval.abstain:
        store.analytics.record_later("unanswered", plate=body.plate, detail=body.q)
    return result.to_json()


@router.post("/api/chat", responses={**body(ChatOut), **json_errors(409)})
async def chat(
    request: Request,
    response: Response,
    body: ChatIn,
    chat: Annotated[ChatService, Depends(get_chat)],
    store: Annotated[Store, Depends(get_store)],
    throttle: Annotated[Throttle, Depends(get_throttle)],
) -> dict[str, Any]:
    """One turn of a web chat; another's chat (or another channel's) is 404."""
    target = await in_thread(web_chat, request, response, store, body.session)
    throttle.check(Limit.CHAT_PER_IP, Limit.CHAT_PER_SESSION, session=target.session)

    async def answer() -> dict[str, Any]:
        reply = await chat.turn(
            target.session,
            body.text,
            plate=body.plate,
            choice=body.choice.model_dump() if body.choice else None,
            human=body.human,
            owner=target.owner,
            client_msg_id=body.client_msg_id,
        )
        return {"session": target.session, **reply.to_json()}

    return await answer_once(store, target.session, body.client_msg_id, answer)


@router.get("/api/chat/{session}/messages", responses=body(MessagesOut))
async def chat_messages(
    request: Request,
    session: str,
    store: Annotated[Store, Depends(get_store)],
    poll: Annotated[PollArgs, Depends(poll_args)],
    notifier: Annotated[Notifier, Depends(get_notifier)],
) -> dict[str, Any]:
    """Staff and system messages after an id, and the conversation's mode.

    With ``wait`` the request is held until there is something new (a message, or
    a mode other than the ``mode`` the caller already shows) or ``wait`` seconds pass:
    the widget's live channel for staff replies. Only for the chat's owner (else 404).
    """
    await in_thread(owned_chat, request, store, session)
    gate = request.app.state.polls
    return (await long_poll(notifier, store, session, (Role.STAFF, Role.SYSTEM), poll, gate)).to_json()


@router.post("/api/events", status_code=204)
def events(
    body: EventIn, kb: Annotated[KnowledgeBase, Depends(get_kb)], store: Annotated[Store, Depends(get_store)]
) -> None:
    plate = plate_code(body.plate) or None
    town = kb.library.plates[plate].town if plate in kb.library.plates else None
    store.analytics.record(body.kind, plate=plate, town=town, item=body.item, detail=body.detail)


class LeaveMessageIn(BaseModel):
    phone: str = Field(pattern=PHONE_PATTERN)
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


@router.post(
    "/api/chat/{session}/leave-message",
    status_code=201,
    responses={**body(LeftMessageOut, 201, "Created"), **json_errors(409)},
)
def leave_message(
    request: Request,
    session: str,
    body: LeaveMessageIn,
    store: Annotated[Store, Depends(get_store)],
    chat: Annotated[ChatService, Depends(get_chat)],
    orders: Orders,
    throttle: Annotated[Throttle, Depends(get_throttle)],
) -> dict[str, Any]:
    """Waiting for a person, or outside staff hours: leave a message with a callback number (a ticket).

    Otherwise 409: staff are there to take the chat itself.
    """
    owned_chat(request, store, session)
    throttle.check(Limit.LEAVE_MESSAGE_PER_IP, Limit.LEAVE_MESSAGE_PER_SESSION, session=session)
    left = tickets.leave_message(
        store, orders, session, phone=body.phone, text=body.text, on_duty=chat.policy.on_duty()
    )
    return {"ticket": left.ticket, "mode": left.mode.value}


class RatingIn(BaseModel):
    session: str | None = Field(default=None, max_length=64)
    target: Literal["chat", "answer"]
    item: str | None = Field(default=None, max_length=64)
    level: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=500)


@router.post("/api/rate", status_code=201, responses=body(RatingOut, 201, "Created"))
def rate(
    request: Request,
    body: RatingIn,
    store: Annotated[Store, Depends(get_store)],
    throttle: Annotated[Throttle, Depends(get_throttle)],
) -> dict[str, Any]:
    """好差评: five levels; 不满意 or worse opens a follow-up ticket for the supervisor (a chat: its owner only)."""
    if body.session:
        owned_chat(request, store, body.session)
    throttle.check(Limit.RATING_PER_IP, Limit.RATING_PER_SESSION, session=body.session)
    rated = ratings.rate(
        store,
        target=body.target,
        level=body.level,
        comment=body.comment,
        session=body.session,
        item=body.item,
        rectification=request.app.state.rectification,
    )
    return {
        "rating": rated.rating,
        "label": rated.label,
        "follow_up_ticket": rated.follow_up_ticket,
        "rectification_task": rated.rectification_task,
    }


@router.post(
    "/api/agency",
    status_code=201,
    responses=body(AgencyOut, 201, "Created"),
    dependencies=[limited(Limit.AGENCY_PER_IP)],
)
def agency(
    body: AgencyIn, kb: Annotated[KnowledgeBase, Depends(get_kb)], store: Annotated[Store, Depends(get_store)]
) -> dict[str, Any]:
    """帮办代办: ask for someone to do it for (or with) you; returns the code to check status."""
    req = request_agency(store, kb.library, body)
    return {"code": req.code, "status": req.status.value}


@router.get("/api/agency/{code}", responses=body(AgencyStatusOut), dependencies=[limited(Limit.AGENCY_STATUS_PER_IP)])
def agency_status(code: str, store: Annotated[Store, Depends(get_store)]) -> dict[str, Any]:
    req = store.agency.by_code(code)
    return {
        "code": req.code,
        "item": req.item,
        "status": req.status.value,
        "note": req.staff_note,
        "updated_at": req.updated_at.isoformat(),
    }
