"""The help desk's own pages: presence, canned replies, search, 好差评 rectification (HTTP only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web.db.store import Store
from web.db.tables import Presence, TaskState
from web.deps import get_store
from web.helpdesk import chats
from web.helpdesk.auth import Auth
from web.helpdesk.canned import VARIABLES
from web.helpdesk.deps import (
    CannedDep,
    ChatSession,
    CsrfField,
    RectificationDep,
    RectifySession,
    RouterDep,
    SearchSession,
    SupervisorSession,
)
from web.helpdesk.search import KIND_LABELS, criteria, search
from web.routes.staff import _me, _page  # one page helper for every /staff route

router = APIRouter(prefix="/staff", include_in_schema=False)
StoreDep = Annotated[Store, Depends(get_store)]


def _back(to: str, default: str) -> str:
    """Where a form goes back to: a /staff path it names, else ``default`` (never another site)."""
    return to if to.startswith("/staff") and not to.startswith("//") else default


# ---- presence


@router.post("/presence")
async def presence(
    session: ChatSession,
    store: StoreDep,
    routing: RouterDep,
    csrf: CsrfField,
    state: Annotated[Presence, Form()],
    next: Annotated[str, Form(max_length=200)] = "/staff",
) -> Response:
    """在线 / 忙碌 / 离开; only 在线 agents are offered new chats."""
    Auth.check_csrf(session, csrf)
    chats.set_presence(store, session.staff, state, routing)
    return RedirectResponse(_back(next, "/staff"), status_code=303)


@router.post("/agents/{staff_id}/limit")
async def agent_limit(
    staff_id: int,
    session: SupervisorSession,
    store: StoreDep,
    csrf: CsrfField,
    limit: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """A supervisor sets an agent's own chat limit (empty: the default)."""
    Auth.check_csrf(session, csrf)
    value = int(limit) if limit.strip().isdigit() and 1 <= int(limit) <= 50 else None
    current = store.presence.of(staff_id)
    store.presence.set(staff_id, current.state if current else Presence.AWAY, value, set_limit=True)
    return RedirectResponse("/staff/supervisor", status_code=303)


# ---- canned replies


@router.get("/canned", response_class=HTMLResponse)
async def canned_page(request: Request, session: ChatSession, canned: CannedDep) -> Response:
    context = {**_me(session), "replies": canned.usable(session.staff), "variables": VARIABLES}
    return _page(request, "staff/canned.html", context)


@router.post("/canned")
async def canned_add(
    session: ChatSession,
    canned: CannedDep,
    csrf: CsrfField,
    title: Annotated[str, Form(min_length=1, max_length=64)],
    body: Annotated[str, Form(min_length=1, max_length=4000)],
    team: Annotated[bool, Form()] = False,
) -> Response:
    Auth.check_csrf(session, csrf)
    canned.add(session.staff, title, body, team=team)
    return RedirectResponse("/staff/canned", status_code=303)


@router.post("/canned/{reply_id}")
async def canned_update(
    reply_id: int,
    session: ChatSession,
    canned: CannedDep,
    csrf: CsrfField,
    title: Annotated[str, Form(min_length=1, max_length=64)],
    body: Annotated[str, Form(min_length=1, max_length=4000)],
) -> Response:
    Auth.check_csrf(session, csrf)
    canned.update(session.staff, reply_id, title, body)
    return RedirectResponse("/staff/canned", status_code=303)


@router.post("/canned/{reply_id}/delete")
async def canned_delete(reply_id: int, session: ChatSession, canned: CannedDep, csrf: CsrfField) -> Response:
    Auth.check_csrf(session, csrf)
    canned.delete(session.staff, reply_id)
    return RedirectResponse("/staff/canned", status_code=303)


# ---- search


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    session: SearchSession,
    store: StoreDep,
    q: Annotated[str, Query(max_length=100)] = "",
    plate: Annotated[str, Query(max_length=16)] = "",
    phone: Annotated[str, Query(max_length=32)] = "",
    code: Annotated[str, Query(max_length=40)] = "",
    date: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """Conversations, tickets, work orders and 帮办 requests, as the role may see them; audit-logged."""
    found = search(store, request, session, criteria(q, plate, phone, code, date))
    form = {"q": q, "plate": plate, "phone": phone, "code": code, "date": date}
    context = {**_me(session), "form": form, "found": found, "kind_labels": KIND_LABELS}
    return _page(request, "staff/search.html", context)


# ---- 好差评 rectification


@router.get("/ratings", response_class=HTMLResponse)
async def ratings_page(request: Request, session: RectifySession, rectification: RectificationDep) -> Response:
    context = {**_me(session), "rows": rectification.board(), "days": rectification.followup_days}
    return _page(request, "staff/ratings.html", context)


@router.post("/ratings/{task_id}/advance")
async def rating_advance(
    task_id: int,
    session: RectifySession,
    rectification: RectificationDep,
    csrf: CsrfField,
    to: Annotated[TaskState, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
    rerating: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    Auth.check_csrf(session, csrf)
    level = int(rerating) if rerating.isdigit() else None
    rectification.advance(task_id, to, session.staff, note, level)
    return RedirectResponse("/staff/ratings", status_code=303)


@router.post("/ratings/{task_id}/appeal")
async def rating_appeal(
    task_id: int,
    session: RectifySession,
    rectification: RectificationDep,
    csrf: CsrfField,
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
) -> Response:
    Auth.check_csrf(session, csrf)
    rectification.appeal(task_id, session.staff, reason)
    return RedirectResponse("/staff/ratings", status_code=303)


@router.post("/ratings/{task_id}/decide")
async def rating_decide(
    task_id: int,
    session: SupervisorSession,
    rectification: RectificationDep,
    csrf: CsrfField,
    upheld: Annotated[bool, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """A supervisor decides an appeal: upheld voids the rating, refused returns the task to its state."""
    Auth.check_csrf(session, csrf)
    rectification.decide(task_id, session.staff, upheld, note)
    return RedirectResponse("/staff/ratings", status_code=303)
