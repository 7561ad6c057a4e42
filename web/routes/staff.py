"""Staff console (help desk, supervisors, 12345 hotline agents): server-rendered, live by SSE."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from knowledge.errors import NotFound
from knowledge.hours import local
from knowledge.service import KnowledgeBase
from web.channels.delivery import PollArgs, poll_args
from web.chat.handoff import IllegalTransition
from web.db.engine import in_thread
from web.db.store import Store
from web.db.tables import AgencyStatus, OrderStatus, OrderType, Presence, StaffRole, Verdict
from web.deps import get_kb, get_store
from web.helpdesk import appointments, audit, chats, precheck
from web.helpdesk.audit import Audited
from web.helpdesk.auth import COOKIE, SESSION_SECONDS, Auth, StaffSession, client_ip
from web.helpdesk.deps import (
    AgencySession,
    AppointmentsSession,
    AuditSession,
    CannedDep,
    ChatSession,
    ConsoleSession,
    CsrfField,
    DeliveryDep,
    HotlineSession,
    NotifierDep,
    Orders,
    OrdersSession,
    Session,
    SupervisorSession,
    TicketSession,
    get_auth,
    renderer,
)
from web.helpdesk.hotline import lookup
from web.helpdesk.roles import Action, allowed
from web.helpdesk.workorders import csv_cell, tell_resident
from web.render.sentences import VERDICTS
from web.urls import SITE

router = APIRouter(prefix="/staff", include_in_schema=False)

Kb = Annotated[KnowledgeBase, Depends(get_kb)]
StoreDep = Annotated[Store, Depends(get_store)]


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response: HTMLResponse = renderer(request).page(request, template, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _me(session: StaffSession) -> dict[str, Any]:
    return {"me": session.staff, "csrf": session.csrf}


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/staff") -> Response:
    return _page(request, "staff/login.html", {"next": next if next.startswith("/staff") else "/staff", "error": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    auth: Annotated[Auth, Depends(get_auth)],
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=200)] = "/staff",
) -> Response:
    ip = client_ip(request)
    staff, error = await asyncio.to_thread(auth.login, username, password, ip)
    if staff is None:
        return _page(request, "staff/login.html", {"next": next, "error": error, "username": username}, status=401)
    response = RedirectResponse(next if next.startswith("/staff") else "/staff", status_code=303)
    response.set_cookie(
        COOKIE,
        await in_thread(auth.start_session, staff, ip),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=auth.secure,
        path="/",
    )
    return response


@router.post("/logout")
def logout(session: Session, auth: Annotated[Auth, Depends(get_auth)], store: StoreDep, csrf: CsrfField) -> Response:
    auth.check_csrf(session, csrf)
    auth.end(session)
    if store.presence.of(session.staff.id) is not None:
        store.presence.set(session.staff.id, Presence.AWAY)  # logged out: offered nothing more
    response = RedirectResponse("/staff/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("", response_class=HTMLResponse)
def console(request: Request, session: ConsoleSession, store: StoreDep, kb: Kb) -> Response:
    if session.staff.role is StaffRole.EDITOR:  # editors keep the guides, not the help-desk queue
        return RedirectResponse("/staff/editor", status_code=303)
    target = request.app.state.settings.first_response_seconds
    context = {**_me(session), **chats.desk(store, kb.library, session.staff, target), "statuses": list(AgencyStatus)}
    return _page(request, "staff/queue.html", context)


@router.get("/panel", response_class=HTMLResponse)
async def panel(request: Request, session: ChatSession, store: StoreDep, kb: Kb) -> Response:
    """The queue and this staff member's chats as a fragment: the live page swaps it in."""
    target = request.app.state.settings.first_response_seconds
    context = {**_me(session), **chats.desk(store, kb.library, session.staff, target)}
    return _page(request, "staff/_panel.html", context)


def overdue_for(state: Any, staff: StaffSession) -> int:
    """How many items this role sees are overdue (``state``: the app's): rectification tasks, 12345 work orders."""
    n = 0
    if allowed(staff.staff.role, Action.RECTIFY):
        n += state.rectification.overdue_count()
    if allowed(staff.staff.role, Action.WORKORDERS):
        n += state.workorders.overdue_count()
    return n


EVENTS_EVERY = 2.0  # seconds between two looks at the queue
RECHECK_EVERY = 30.0  # seconds between two checks that the session is still valid


async def live_events(
    request: Request, store: Store, auth: Auth, session: StaffSession, overdue: Callable[[], int] = lambda: 0
) -> AsyncIterator[str]:
    """The queue, offers, newest messages and overdue count when they change; ends when the session
    is revoked or idle.

    The stream does not count as activity: an open console left alone still times out.
    """
    last = ""
    checked = asyncio.get_running_loop().time()
    while not await request.is_disconnected():
        now = asyncio.get_running_loop().time()
        if now - checked >= RECHECK_EVERY:
            checked = now
            if await in_thread(auth.check, session.sid) is None:
                yield "event: logout\ndata: {}\n\n"
                return
        state = json.dumps(await in_thread(chats.live_state, store, session.staff, overdue()))
        if state != last:
            yield f"event: queue\ndata: {state}\n\n"
            last = state
        else:
            yield ": keep-alive\n\n"
        await asyncio.sleep(EVENTS_EVERY)


@router.get("/events")
def events(
    request: Request, session: ChatSession, store: StoreDep, auth: Annotated[Auth, Depends(get_auth)]
) -> Response:
    """Server-sent events for live pages (see ``live_events``)."""
    return StreamingResponse(
        live_events(request, store, auth, session, lambda: overdue_for(request.app.state, session)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store"},
    )


@router.post("/c/{conv_id}/claim")
def claim(request: Request, conv_id: str, session: ChatSession, store: StoreDep, csrf: CsrfField) -> Response:
    Auth.check_csrf(session, csrf)
    try:
        chats.claim(store, conv_id, session.staff)
    except IllegalTransition:
        return _page(
            request,
            "error.html",
            {"status": 409, "title": "已经被别人接了", "message": "这位群众已经由其他工作人员接待。"},
            status=409,
        )
    return RedirectResponse(SITE.staff_chat(conv_id), status_code=303)


@router.get("/c/{conv_id}", response_class=HTMLResponse)
def chat_view(
    request: Request,
    conv_id: str,
    session: ChatSession,
    store: StoreDep,
    kb: Kb,
    canned: CannedDep,
    use: Annotated[int | None, Query(ge=1, le=2**31)] = None,
) -> Response:
    """One chat beside the queue; ``?use=ID`` puts that canned reply, filled in, into the reply box."""
    target = request.app.state.settings.first_response_seconds
    context = {
        **_me(session),
        **chats.desk(store, kb.library, session.staff, target),
        **chats.chat_view(store, kb.library, conv_id, session.staff),
        "canned": canned.usable(session.staff),
        "draft": "",
    }
    if use is not None:
        context["draft"] = canned.fill(session.staff, use, context["conv"])
    audit.record(store, request, session, Audited.TRANSCRIPT, conv_id)
    return _page(request, "staff/chat.html", context)


@router.get("/c/{conv_id}/messages")
async def chat_messages(
    request: Request,
    conv_id: str,
    session: ChatSession,
    store: StoreDep,
    notifier: NotifierDep,
    poll: Annotated[PollArgs, Depends(poll_args)],
) -> dict[str, Any]:
    """The whole transcript after an id (notes included); ``wait`` holds it open as for residents."""
    found = await chats.transcript(store, notifier, conv_id, poll, request.app.state.polls)
    if poll.after == 0:  # the whole transcript (the open page only asks for what is new)
        await in_thread(audit.record, store, request, session, Audited.TRANSCRIPT, conv_id)
    return found


@router.post("/c/{conv_id}/reply")
async def reply(
    conv_id: str,
    session: ChatSession,
    store: StoreDep,
    delivery: DeliveryDep,
    csrf: CsrfField,
    text: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    Auth.check_csrf(session, csrf)
    await chats.reply(store, delivery, conv_id, session.staff, text)
    return RedirectResponse(SITE.staff_chat(conv_id, "reply"), status_code=303)


@router.post("/c/{conv_id}/checklist")
async def checklist(
    conv_id: str,
    session: ChatSession,
    store: StoreDep,
    kb: Kb,
    delivery: DeliveryDep,
    csrf: CsrfField,
    item: Annotated[str, Form(max_length=64)],
    situation: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Insert a guide's checklist as a reply (rendered text, ready for SMS too)."""
    Auth.check_csrf(session, csrf)
    await chats.send_checklist(store, delivery, kb, conv_id, session.staff, item, situation)
    return RedirectResponse(SITE.staff_chat(conv_id, "reply"), status_code=303)


@router.post("/c/{conv_id}/note")
def note(
    conv_id: str,
    session: ChatSession,
    store: StoreDep,
    csrf: CsrfField,
    text: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    Auth.check_csrf(session, csrf)
    chats.add_note(store, conv_id, session.staff, text)
    return RedirectResponse(SITE.staff_chat(conv_id), status_code=303)


@router.post("/c/{conv_id}/transfer")
def transfer(
    conv_id: str, session: ChatSession, store: StoreDep, csrf: CsrfField, to: Annotated[int, Form()]
) -> Response:
    Auth.check_csrf(session, csrf)
    chats.transfer(store, conv_id, session.staff, to)
    return RedirectResponse("/staff", status_code=303)


@router.post("/c/{conv_id}/{action}")
async def finish(
    conv_id: str, action: str, session: ChatSession, store: StoreDep, delivery: DeliveryDep, csrf: CsrfField
) -> Response:
    Auth.check_csrf(session, csrf)
    await chats.finish(store, delivery, conv_id, session.staff, action)
    return RedirectResponse("/staff", status_code=303)


@router.post("/tickets/{ticket_id}/done")
def ticket_done(ticket_id: int, session: TicketSession, store: StoreDep, csrf: CsrfField) -> Response:
    Auth.check_csrf(session, csrf)
    store.tickets.close(ticket_id)
    return RedirectResponse("/staff", status_code=303)


@router.post("/agency/{code}")
def agency_update(
    code: str,
    session: AgencySession,
    store: StoreDep,
    csrf: CsrfField,
    status: Annotated[AgencyStatus, Form()],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    Auth.check_csrf(session, csrf)
    store.agency.update(code, status, note or None)
    return RedirectResponse("/staff", status_code=303)


@router.get("/uploads/{token}")
def photo(request: Request, token: str, session: ChatSession, store: StoreDep) -> Response:
    """A resident's photo (a WeChat image in a chat; a pre-check material for staff who handle 帮办)."""
    row, data = store.uploads.get(token[:64])
    if row.purpose == "precheck" and not allowed(session.staff.role, Action.AGENCY):
        return _page(
            request, "error.html", {"status": 403, "title": "没有权限", "message": "预审材料只给帮办的工作人员看"}, 403
        )
    audit.record(store, request, session, Audited.PHOTO, row.conversation_id or row.agency_code or token)
    return Response(data, media_type=row.content_type, headers={"Cache-Control": "no-store"})


@router.get("/precheck/{code}", response_class=HTMLResponse)
def precheck_page(request: Request, code: str, session: AgencySession, store: StoreDep, kb: Kb) -> Response:
    """A pre-check's materials with the resident's photos, and a verdict form per material."""
    found = precheck.view(store, kb, code)
    plate = kb.library.plates.get(found.req.plate or "")
    audit.record(store, request, session, Audited.PRECHECK, found.req.code)
    context = {**_me(session), "pc": found, "plate": plate, "verdicts": VERDICTS}
    return _page(request, "staff/precheck.html", context)


@router.post("/precheck/{code}/{material}")
def precheck_mark(
    code: str,
    material: int,
    session: AgencySession,
    store: StoreDep,
    kb: Kb,
    csrf: CsrfField,
    verdict: Annotated[Verdict, Form()],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    Auth.check_csrf(session, csrf)
    precheck.review(store, kb, code, material, verdict, note, session.staff)
    return RedirectResponse(f"/staff/precheck/{code}#m{material}", status_code=303)


@router.get("/appointments", response_class=HTMLResponse)
def appointments_page(
    request: Request, session: AppointmentsSession, store: StoreDep, kb: Kb, day: str = "", hall: str = ""
) -> Response:
    """The day's bookings (today by default), name and phone masked."""
    day = day or local(kb.clock.now()).date().isoformat()
    rows = appointments.day_list(kb.library, store, day[:10], hall[:48] or None)
    audit.record(store, request, session, Audited.BOOKINGS, f"{day} {hall}".strip())
    halls = sorted((h for h in kb.library.halls.values() if h.level.value != "village"), key=lambda h: h.code)
    context = {**_me(session), "day": day[:10], "hall": hall, "rows": rows, "halls": halls}
    return _page(request, "staff/appointments.html", context)


@router.get("/supervisor", response_class=HTMLResponse)
def supervisor(request: Request, session: SupervisorSession, store: StoreDep, kb: Kb) -> Response:
    settings = request.app.state.settings
    context = {
        **_me(session),
        **chats.supervision(store, kb.library, settings.first_response_seconds),
        "presences": list(Presence),
        "default_limit": settings.agent_max_chats,
        "dead_letters": store.webhooks.dead_letters(),
        "webhook_health": store.webhooks.health(),
        "webhook_max_attempts": settings.hotline_webhook_max_attempts,
    }
    return _page(request, "staff/supervisor.html", context)


@router.post("/webhooks/{delivery_id}/revive")
def revive_webhook(delivery_id: int, session: SupervisorSession, store: StoreDep, csrf: CsrfField) -> Response:
    """A dead 12345 webhook delivery: its tries start over (the platform is back)."""
    Auth.check_csrf(session, csrf)
    if not store.webhooks.revive(delivery_id):
        raise NotFound(f"no dead letter {delivery_id}")
    return RedirectResponse("/staff/supervisor#dead-letters", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: AuditSession, store: StoreDep) -> Response:
    """Who opened transcripts, exported or read work orders, looked things up: the latest 200."""
    context = {
        **_me(session),
        "entries": store.audit.latest(audit.LATEST),
        "labels": audit.LABELS,
        "limit": audit.LATEST,
    }
    return _page(request, "staff/audit.html", context)


# ---- 12345 hotline: guide search with SMS text, and work orders


@router.get("/hotline", response_class=HTMLResponse)
async def hotline(
    request: Request, session: HotlineSession, kb: Kb, store: StoreDep, q: str = "", item: str = "", s: str = ""
) -> Response:
    """Answer a caller: search the guides and copy the checklist as an SMS."""
    context = {**_me(session), "q": q, **(await lookup(kb, q, item, s))}
    if q or item:
        await in_thread(audit.record, store, request, session, Audited.LOOKUP, q or f"{item} {s}".strip())
    return _page(request, "staff/hotline.html", context)


class OrderIn(BaseModel):
    type: OrderType
    category: str | None = Field(default=None, max_length=64)
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
def create_order(request: Request, body: OrderIn, session: OrdersSession, orders: Orders) -> dict[str, Any]:
    _json_csrf(request, session)
    return orders.create(
        body.type,
        body.content,
        phone=body.callback_phone,
        conversation=body.conversation,
        plate=body.plate,
        item=body.item,
        category=body.category,
        by=session.staff.username,
    )


@router.get("/api/workorders/{code}")
def read_order(request: Request, code: str, session: OrdersSession, orders: Orders, store: StoreDep) -> dict[str, Any]:
    found = orders.get(code)
    audit.record(store, request, session, Audited.ORDER_JSON, code)
    return found


@router.post("/api/workorders/{code}/advance")
async def advance_order(
    request: Request,
    code: str,
    body: AdvanceIn,
    session: OrdersSession,
    orders: Orders,
    store: StoreDep,
    delivery: DeliveryDep,
) -> dict[str, Any]:
    """One step along the flow; an order that came from a chat tells that chat (web or WeChat)."""
    _json_csrf(request, session)
    order = orders.advance(
        code, body.to, by=session.staff.username, department=body.department, reply=body.reply, rating=body.rating
    )
    await tell_resident(store, delivery, order)
    return order


@router.get("/workorders.csv")
def export_orders(request: Request, session: OrdersSession, orders: Orders, store: StoreDep) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        [
            "工单编号",
            "类型",
            "状态",
            "内容",
            "回电号码",
            "门牌",
            "事项",
            "承办部门",
            "答复",
            "评价",
            "受理时间",
            "分类",
            "办理时限",
            "是否超期",
        ]
    )
    rows = orders.all()
    for o in rows:
        cells = [
            o["code"],
            o["type"],
            o["status"],
            o["content"],
            o["callback_phone"],
            o["plate"],
            o["item"],
            o["department"],
            o["reply"],
            o["rating"],
            o["created_at"],
            o["category_label"],
            o["due_on"],
            "超期" if o["overdue"] else "",
        ]
        writer.writerow([csv_cell(c) for c in cells])
    audit.record(store, request, session, Audited.EXPORT_CSV, f"{len(rows)} 条工单")
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="workorders.csv"'},
    )


@router.get("/workorders", response_class=HTMLResponse)
def orders_page(request: Request, session: OrdersSession, orders: Orders) -> Response:
    context = {
        **_me(session),
        "orders": orders.all(),
        "flow": list(OrderStatus),
        "types": [(t, orders.taxonomy.due_days(t)) for t in OrderType],
        "categories": orders.taxonomy.flat(),
    }
    return _page(request, "staff/workorders.html", context)
