"""Usage analytics for the county's operators and editors (/admin/stats), and the popular items.

POPULAR lists the guide codes that the home page and every plate page show first. They are
content and belong in guides/ (loaded by knowledge/); until the loader reads such a list,
this is its one place.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from knowledge.hours import CHINA_TZ
from knowledge.library import Library
from web.db.store import Store
from web.db.tables import AnalyticsEvent, utcnow

POPULAR = [
    "id-card-renew",
    "medical-insurance-resident",
    "hukou-newborn",
    "social-card-apply",
    "hpf-withdraw-rent",
    "elderly-allowance",
    "driving-license-renew",
    "property-transfer",
]

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
    "print": "打印清单",
    "share": "发到手机",
    "appointment": "预约",
    "precheck": "在线预审上传",
}
MAX_DAYS = 90


@dataclass
class Bar:
    label: str
    value: int
    width: float  # percent of the largest bar


def bars(counter: Counter[str], limit: int = 12) -> list[Bar]:
    top = counter.most_common(limit)
    biggest = max((v for _, v in top), default=1) or 1
    return [Bar(k, v, round(100 * v / biggest, 1)) for k, v in top]


def referral_candidates(library: Library, events: list[AnalyticsEvent]) -> list[tuple[str, int]]:
    """Referral entries residents asked about, most asked first: candidates for a full guide."""
    counts: Counter[str] = Counter()
    for e in events:
        if e.kind == "referral" and e.detail:
            ident = e.detail.split(" ", 1)[0].removeprefix("ref:")
            ref = library.referrals.get(ident)
            counts[ref.name if ref else ident] += 1
    return counts.most_common(30)


def usage(store: Store, library: Library, days: int) -> dict[str, Any]:
    """The last ``days`` days (1 to 90) of events, counted for the stats page."""
    days = max(1, min(days, MAX_DAYS))
    events = store.analytics.since(utcnow() - dt.timedelta(days=days))
    totals = Counter(e.kind for e in events)
    per_day: dict[str, Counter[str]] = {}
    for e in events:
        day = e.created_at.replace(tzinfo=dt.UTC).astimezone(CHINA_TZ).strftime("%m-%d")
        per_day.setdefault(day, Counter())[e.kind] += 1
    scans_by_day = Counter({d: c["scan"] for d, c in per_day.items()})
    questions_by_day = Counter({d: c["question"] for d, c in per_day.items()})
    day_rows = sorted(per_day)
    titles = {c: g.title for c, g in library.guides.items()}
    unanswered = Counter((e.detail or "").strip() for e in events if e.kind == "unanswered" and e.detail)
    return {
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
        "candidates": referral_candidates(library, events),
    }
