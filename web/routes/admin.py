"""/admin/stats: usage analytics for county operators and editors (login required)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from knowledge.places import CHINA_TZ
from knowledge.service import KnowledgeBase
from web.db.store import Store
from web.db.tables import AnalyticsEvent, utcnow
from web.deps import get_kb, get_store
from web.routes.staff import Session

router = APIRouter(prefix="/admin", include_in_schema=False)

KINDS = {
    "scan": "扫码",
    "question": "提问",
    "answer": "给出答案",
    "nav": "导航",
    "online": "网上办链接",
    "help_request": "找人工/帮办",
    "unanswered": "没答上",
    "referral": "转介（没有攻略的事）",
    "lookup": "查个人记录",
}


@dataclass
class Bar:
    label: str
    value: int
    width: float  # percent of the largest bar


def bars(counter: Counter[str], limit: int = 12) -> list[Bar]:
    top = counter.most_common(limit)
    biggest = max((v for _, v in top), default=1) or 1
    return [Bar(k, v, round(100 * v / biggest, 1)) for k, v in top]


def referral_candidates(kb: KnowledgeBase, events: list[AnalyticsEvent]) -> list[tuple[str, int]]:
    """Referral entries residents asked about, most asked first: candidates for a full guide."""
    counts: Counter[str] = Counter()
    for e in events:
        if e.kind == "referral" and e.detail:
            ident = e.detail.split(" ", 1)[0].removeprefix("ref:")
            ref = kb.library.referrals.get(ident)
            counts[ref.name if ref else ident] += 1
    return counts.most_common(30)


@router.get("/stats", response_class=HTMLResponse)
async def stats(
    request: Request,
    session: Session,
    store: Annotated[Store, Depends(get_store)],
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    days: int = 14,
) -> Response:
    days = max(1, min(days, 90))
    since = utcnow() - dt.timedelta(days=days)
    with store.tx() as s:
        events = list(s.scalars(select(AnalyticsEvent).where(AnalyticsEvent.created_at >= since)))
    totals = Counter(e.kind for e in events)
    per_day: dict[str, Counter[str]] = {}
    for e in events:
        day = e.created_at.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ).strftime("%m-%d")
        per_day.setdefault(day, Counter())[e.kind] += 1
    scans_by_day = Counter({d: c["scan"] for d, c in per_day.items()})
    questions_by_day = Counter({d: c["question"] for d, c in per_day.items()})
    day_rows = sorted(per_day)
    titles = {c: g.title for c, g in kb.library.guides.items()}
    unanswered = Counter((e.detail or "").strip() for e in events if e.kind == "unanswered" and e.detail)
    context = {
        "me": session.staff,
        "csrf": session.csrf,
        "days": days,
        "totals": [(KINDS.get(k, k), totals.get(k, 0)) for k in KINDS],
        "day_rows": [(d, per_day[d]) for d in day_rows],
        "kinds": KINDS,
        "scans": bars(Counter({d: scans_by_day[d] for d in day_rows}), 90),
        "questions": bars(Counter({d: questions_by_day[d] for d in day_rows}), 90),
        "by_plate": bars(Counter(e.plate for e in events if e.plate and e.kind == "scan")),
        "by_town": bars(Counter(e.town for e in events if e.town)),
        "by_item": bars(Counter(titles.get(e.item, e.item) for e in events if e.item and e.kind == "answer")),
        "unanswered": unanswered.most_common(50),
        "candidates": referral_candidates(kb, events),
    }
    response: HTMLResponse = request.app.state.renderer.page(request, "admin/stats.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response
