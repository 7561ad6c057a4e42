"""/admin/stats: usage analytics for supervisors (web.helpdesk.roles: Action.STATS)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from knowledge.service import KnowledgeBase
from web.db.store import Store
from web.deps import get_kb, get_store
from web.helpdesk.analytics import usage
from web.helpdesk.deps import StatsSession, renderer

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/stats", response_class=HTMLResponse)
def stats(
    request: Request,
    session: StatsSession,
    store: Annotated[Store, Depends(get_store)],
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    days: int = 14,
) -> Response:
    context = {"me": session.staff, "csrf": session.csrf, **usage(store, kb.library, days)}
    response: HTMLResponse = renderer(request).page(request, "admin/stats.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response
