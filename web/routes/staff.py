"""Staff console (help desk, supervisors, 12345 hotline agents): server-rendered, live by SSE."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from knowledge.answer import render_text
from knowledge.errors import NotFound
from knowledge.service import KnowledgeBase
from web.auth import COOKIE, SESSION_SECONDS, Auth, StaffSession
from web.db.store import Store
from web.db.tables import RATING_LABELS, AgencyStatus, Conversation, OrderStatus, OrderType, Role, StaffRole, utcnow
from web.delivery import PollArgs, long_poll, poll_args
from web.deps import get_kb, get_store
from web.handoff import HandoffEvent, IllegalTransition, Mode
from web.workorders import WorkOrders

router = APIRouter(prefix="/staff", include_in_schema=False)

CsrfField = Annotated[str, Form(alias="csrf", max_length=64)]


async def get_auth(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


async def staff_session(request: Request, auth: Annotated[Auth, Depends(get_auth)]) -> StaffSession:
    return auth.require(request)


async def supervisor_session(request: Request, auth: Annotated[Auth, Depends(get_auth)]) -> StaffSession:
    return auth.require(request, StaffRole.SUPERVISOR)


Session = Annotated[StaffSession, Depends(staff_session)]


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response: HTMLResponse = request.app.state.renderer.page(request, template, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _minutes_since(when: dt.datetime | None) -> int:
    if when is None:
        return 0
    return int((utcnow() - when.replace(tzinfo=dt.UTC)).total_seconds() // 60)


@dataclass
class QueueRow:
    conv: Conversation
    waited_minutes: int
    address: str
    last_text: str


def _rows(store: Store, kb: KnowledgeBase, convs: list[Conversation]) -> list[QueueRow]:
    last = store.conversations.last_resident_texts([c.id for c in convs])
    rows = []
    for c in convs:
        plate = kb.library.plates.get(c.plate or "")
        rows.append(
            QueueRow(
                c,
                _minutes_since(c.waiting_since if c.mode is Mode.WAITING else c.claimed_at),
                plate.address if plate else "（未扫门牌）",
                last.get(c.id, ""),
            )
        )
    return rows


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/staff") -> Response:
    return _page(request, "staff/login.html", {"next": next if next.startswith("/staff") else "/staff", "error": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    auth: Annotated[Auth, Depends(get_auth)],
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=200)] = "/staff",
) -> Response:
    staff, error = await asyncio.to_thread(auth.login, username, password)
    if staff is None:
        return _page(request, "staff/login.html", {"next": next, "error": error, "username": username}, status=401)
    response = RedirectResponse(next if next.startswith("/staff") else "/staff", status_code=303)
    response.set_cookie(
        COOKIE,
        auth.cookie_value(staff),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=auth.secure,
        path="/",
    )
    return response


@router.post("/logout")
async def logout(session: Session, auth: Annotated[Auth, Depends(get_auth)], csrf: CsrfField) -> Response:
    auth.check_csrf(session, csrf)
    response = RedirectResponse("/staff/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("", response_class=HTMLResponse)
async def console(
    request: Request,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
) -> Response:
    if session.staff.role is StaffRole.EDITOR:  # editors keep the guides, not the help-desk queue
        return RedirectResponse("/staff/editor", status_code=303)
    return _page(
        request,
        "staff/queue.html",
        {
            "me": session.staff,
            "csrf": session.csrf,
            "queue": _rows(store, kb, store.conversations.queue()),
            "mine": _rows(store, kb, store.conversations.active_chats(session.staff.id)),
            "tickets": store.tickets.by_status(),
            "agency": [r for r in store.agency.all() if r.status not in (AgencyStatus.DONE, AgencyStatus.CANCELLED)],
            "statuses": list(AgencyStatus),
        },
    )


@router.get("/events")
async def events(request: Request, session: Session, store: Annotated[Store, Depends(get_store)]) -> Response:
    """Server-sent events: the queue and the newest message id, every 2 s, for live pages."""

    async def stream() -> AsyncIterator[str]:
        last = ""
        while not await request.is_disconnected():
            queue = store.conversations.queue()
            state = json.dumps(
                {
                    "queue": len(queue),
                    "ids": [c.id for c in queue],
                    "mine": [c.id for c in store.conversations.active_chats(session.staff.id)],
                }
            )
            if state != last:
                yield f"event: queue\ndata: {state}\n\n"
                last = state
            else:
                yield ": keep-alive\n\n"
            await asyncio.sleep(2)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.post("/c/{conv_id}/claim")
async def claim(
    request: Request, conv_id: str, session: Session, store: Annotated[Store, Depends(get_store)], csrf: CsrfField
) -> Response:
    Auth.check_csrf(session, csrf)
    try:
        store.conversations.apply(
            conv_id,
            HandoffEvent.CLAIM,
            staff_id=session.staff.id,
            announce=(f"工作人员{session.staff.name}已接入，为您服务。", "system"),
        )
    except IllegalTransition:
        return _page(
            request,
            "error.html",
            {"status": 409, "title": "已经被别人接了", "message": "这位群众已经由其他工作人员接待。"},
            status=409,
        )
    return RedirectResponse(f"/staff/c/{conv_id}", status_code=303)


@router.get("/c/{conv_id}", response_class=HTMLResponse)
async def chat_view(
    request: Request,
    conv_id: str,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
) -> Response:
    conv = store.conversations.find(conv_id)
    plate = kb.library.plates.get(conv.plate or "")
    messages = store.conversations.messages(conv_id)
    used = [m.payload["item"] for m in messages if m.payload and m.payload.get("item") in kb.library.guides]
    guides_used = [kb.library.guides[c] for c in dict.fromkeys(used)]
    return _page(
        request,
        "staff/chat.html",
        {
            "me": session.staff,
            "csrf": session.csrf,
            "conv": conv,
            "plate": plate,
            "messages": messages,
            "guides_used": guides_used,
            "all_guides": sorted(kb.library.guides.values(), key=lambda g: g.code),
            "staff": [s for s in store.staff.all() if s.id != session.staff.id and s.active],
            "last_id": messages[-1].id if messages else 0,
        },
    )


@router.get("/c/{conv_id}/messages")
async def chat_messages(
    request: Request,
    conv_id: str,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    poll: Annotated[PollArgs, Depends(poll_args)],
) -> dict[str, Any]:
    """The whole transcript after an id (notes included); ``wait`` holds it open as for residents."""
    store.conversations.find(conv_id)
    return (await long_poll(request.app.state.notifier, store, conv_id, tuple(Role), poll)).to_json()


def _own(store: Store, conv_id: str, session: StaffSession) -> Conversation:
    conv = store.conversations.find(conv_id)
    if conv.mode is not Mode.AGENT or (
        conv.agent_id != session.staff.id and session.staff.role is not StaffRole.SUPERVISOR
    ):
        raise IllegalTransition(conv.mode, HandoffEvent.TRANSFER)
    return conv


@router.post("/c/{conv_id}/reply")
async def reply(
    request: Request,
    conv_id: str,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    csrf: CsrfField,
    text: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    Auth.check_csrf(session, csrf)
    _own(store, conv_id, session)
    store.conversations.add_message(conv_id, Role.STAFF, text.strip(), "text", staff_id=session.staff.id)
    await request.app.state.delivery.deliver(conv_id, text.strip())
    return RedirectResponse(f"/staff/c/{conv_id}#reply", status_code=303)


@router.post("/c/{conv_id}/checklist")
async def checklist(
    request: Request,
    conv_id: str,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    csrf: CsrfField,
    item: Annotated[str, Form(max_length=64)],
    situation: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Insert a guide's checklist as a reply (rendered text, ready for SMS too)."""
    Auth.check_csrf(session, csrf)
    _own(store, conv_id, session)
    if item not in kb.library.guides:
        raise NotFound(f"unknown item {item!r}")
    text = render_text(kb.answer(item, situation or None))
    store.conversations.add_message(conv_id, Role.STAFF, text, "text", {"item": item}, staff_id=session.staff.id)
    await request.app.state.delivery.deliver(conv_id, text)
    return RedirectResponse(f"/staff/c/{conv_id}#reply", status_code=303)


@router.post("/c/{conv_id}/note")
async def note(
    request: Request,
    conv_id: str,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    csrf: CsrfField,
    text: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    Auth.check_csrf(session, csrf)
    store.conversations.find(conv_id)
    store.conversations.add_message(
        conv_id, Role.NOTE, f"{session.staff.name}：{text.strip()}", "note", staff_id=session.staff.id
    )
    return RedirectResponse(f"/staff/c/{conv_id}", status_code=303)


@router.post("/c/{conv_id}/transfer")
async def transfer(
    request: Request,
    conv_id: str,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    csrf: CsrfField,
    to: Annotated[int, Form()],
) -> Response:
    Auth.check_csrf(session, csrf)
    _own(store, conv_id, session)
    target = store.staff.get(to)
    if target is None or not target.active:
        raise NotFound("no such staff member")
    store.conversations.apply(conv_id, HandoffEvent.TRANSFER, staff_id=target.id)
    store.conversations.add_message(
        conv_id, Role.NOTE, f"{session.staff.name} 转给 {target.name}", "note", staff_id=session.staff.id
    )
    return RedirectResponse("/staff", status_code=303)


_FINISH = {
    "resolve": (HandoffEvent.RESOLVE, "本次服务已结束，感谢您的耐心。欢迎对我们的服务做个评价。"),
    "back": (HandoffEvent.BACK_TO_BOT, "工作人员已把对话交回智能助手，您可以继续提问。"),
    "release": (HandoffEvent.RELEASE, "正在为您转接其他工作人员，请稍等。"),
}


@router.post("/c/{conv_id}/{action}")
async def finish(
    request: Request,
    conv_id: str,
    action: str,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    csrf: CsrfField,
) -> Response:
    Auth.check_csrf(session, csrf)
    if action not in _FINISH:
        raise NotFound(f"no action {action}")
    _own(store, conv_id, session)
    event, text = _FINISH[action]
    store.conversations.apply(conv_id, event, announce=(text, "rate" if action == "resolve" else "system"))
    await request.app.state.delivery.deliver(conv_id, text)
    return RedirectResponse("/staff", status_code=303)


@router.post("/tickets/{ticket_id}/done")
async def ticket_done(
    request: Request, ticket_id: int, session: Session, store: Annotated[Store, Depends(get_store)], csrf: CsrfField
) -> Response:
    Auth.check_csrf(session, csrf)
    store.tickets.close(ticket_id)
    return RedirectResponse("/staff", status_code=303)


@router.post("/agency/{code}")
async def agency_update(
    request: Request,
    code: str,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    csrf: CsrfField,
    status: Annotated[AgencyStatus, Form()],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    Auth.check_csrf(session, csrf)
    store.agency.update(code, status, note or None)
    return RedirectResponse("/staff", status_code=303)


@router.get("/supervisor", response_class=HTMLResponse)
async def supervisor(
    request: Request,
    session: Annotated[StaffSession, Depends(supervisor_session)],
    store: Annotated[Store, Depends(get_store)],
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
) -> Response:
    queue = _rows(store, kb, store.conversations.queue())
    with store.tx() as s:
        from sqlalchemy import select

        convs = list(s.scalars(select(Conversation).where(Conversation.agent_id.is_not(None))))
    handled = Counter(c.agent_id for c in convs if c.mode is Mode.RESOLVED and c.agent_id is not None)
    names = {s.id: s.name for s in store.staff.all()}
    ratings = store.ratings.all()
    dist = Counter(r.level for r in ratings)
    return _page(
        request,
        "staff/supervisor.html",
        {
            "me": session.staff,
            "csrf": session.csrf,
            "queue": queue,
            "max_wait": max((r.waited_minutes for r in queue), default=0),
            "avg_wait": round(sum(r.waited_minutes for r in queue) / len(queue), 1) if queue else 0,
            "active": len(store.conversations.active_chats()),
            "handled": [(names.get(k, "?"), v) for k, v in handled.most_common()],
            "ratings": [(RATING_LABELS[level], dist.get(level, 0)) for level in (5, 4, 3, 2, 1)],
            "recent_ratings": ratings[:20],
            "tickets": store.tickets.by_status(),
        },
    )


# ---- 12345 hotline: guide search with SMS text, and work orders


@router.get("/hotline", response_class=HTMLResponse)
async def hotline(
    request: Request,
    session: Session,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    q: str = "",
    item: str = "",
    s: str = "",
) -> Response:
    """Answer a caller: search the guides and copy the checklist as an SMS."""
    result = None
    sms = ""
    if item in kb.library.guides:
        sms = render_text(kb.answer(item, s or None))
    elif q.strip():
        result = await asyncio.to_thread(kb.ask, q[:500])
        if result.answer is not None:
            sms = render_text(result.answer)
    candidates = [kb.library.guides[c.item] for c in result.retrieval.candidates] if result else []
    return _page(
        request,
        "staff/hotline.html",
        {
            "me": session.staff,
            "csrf": session.csrf,
            "q": q,
            "sms": sms,
            "candidates": candidates,
            "abstain": bool(result and result.answer is None),
        },
    )


async def get_orders(request: Request) -> WorkOrders:
    orders: WorkOrders = request.app.state.workorders
    return orders


Orders = Annotated[WorkOrders, Depends(get_orders)]


class OrderIn(BaseModel):
    type: OrderType
    content: str = Field(min_length=1, max_length=4000)
    callback_phone: str | None = Field(default=None, max_length=32)
    conversation: str | None = Field(default=None, max_length=64)
    plate: str | None = Field(default=None, max_length=16)
    item: str | None = Field(default=None, max_length=64)


class AdvanceIn(BaseModel):
    to: OrderStatus
    department: str | None = Field(default=None, max_length=64)
    reply: str | None = Field(default=None, max_length=4000)
    rating: int | None = Field(default=None, ge=1, le=5)


def _json_csrf(request: Request, session: StaffSession) -> None:
    Auth.check_csrf(session, request.headers.get("x-csrf-token", ""))


@router.post("/api/workorders", status_code=201)
async def create_order(request: Request, body: OrderIn, session: Session, orders: Orders) -> dict[str, Any]:
    _json_csrf(request, session)
    return orders.create(
        body.type,
        body.content,
        phone=body.callback_phone,
        conversation=body.conversation,
        plate=body.plate,
        item=body.item,
        by=session.staff.username,
    )


@router.get("/api/workorders/{code}")
async def read_order(code: str, session: Session, orders: Orders) -> dict[str, Any]:
    return orders.get(code)


@router.post("/api/workorders/{code}/advance")
async def advance_order(
    request: Request, code: str, body: AdvanceIn, session: Session, orders: Orders
) -> dict[str, Any]:
    _json_csrf(request, session)
    return orders.advance(
        code, body.to, by=session.staff.username, department=body.department, reply=body.reply, rating=body.rating
    )


@router.get("/workorders.csv")
async def export_orders(session: Session, orders: Orders) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        ["工单编号", "类型", "状态", "内容", "回电号码", "门牌", "事项", "承办部门", "答复", "评价", "受理时间"]
    )
    for o in orders.all():
        writer.writerow(
            [
                o["code"],
                o["type"],
                o["status"],
                o["content"],
                o["callback_phone"] or "",
                o["plate"] or "",
                o["item"] or "",
                o["department"] or "",
                o["reply"] or "",
                o["rating"] or "",
                o["created_at"],
            ]
        )
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="workorders.csv"'},
    )


@router.get("/workorders", response_class=HTMLResponse)
async def orders_page(request: Request, session: Session, orders: Orders) -> Response:
    return _page(
        request,
        "staff/workorders.html",
        {
            "me": session.staff,
            "csrf": session.csrf,
            "orders": orders.all(),
            "flow": list(OrderStatus),
            "types": list(OrderType),
        },
    )
