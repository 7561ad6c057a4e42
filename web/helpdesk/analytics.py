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

from knowledge.library import Library
from web.db.store import Store
from web.db.tables import utcnow

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


def referral_candidates(library: Library, asked: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Referral entries residents asked about (id, times), most asked first, by name: candidates for a full guide."""
    counts: Counter[str] = Counter()
    for ident, n in asked:
        ref = library.referrals.get(ident.removeprefix("ref:"))
        counts[ref.name if ref else ident.removeprefix("ref:")] += n
    return counts.most_common(30)


def usage(store: Store, library: Library, days: int) -> dict[str, Any]:
    """The last ``days`` days (1 to 90) of events, counted by the database (GROUP BY) for the stats page."""
    days = max(1, min(days, MAX_DAYS))
    summary = store.analytics.summary(utcnow() - dt.timedelta(days=days))
    totals: Counter[str] = Counter()
    per_day: dict[str, Counter[str]] = {}
    for kind, day, n in summary.by_kind_day:
        totals[kind] += n
        per_day.setdefault(day, Counter())[kind] += n
    day_rows = sorted(per_day)
    titles = {c: g.title for c, g in library.guides.items()}
    by_item: Counter[str] = Counter()
    for item, n in summary.by_item:
        by_item[titles.get(item, item)] += n
    return {
        "days": days,
        "totals": [(KINDS.get(k, k), totals.get(k, 0)) for k in KINDS],
        "day_rows": [(d, per_day[d]) for d in day_rows],
        "kinds": KINDS,
        "scans": bars(Counter({d: per_day[d]["scan"] for d in day_rows}), 90),
        "questions": bars(Counter({d: per_day[d]["question"] for d in day_rows}), 90),
        "by_plate": bars(Counter(dict(summary.by_plate))),
        "by_town": bars(Counter(dict(summary.by_town))),
        "by_item": bars(by_item),
        "unanswered": [(text.strip(), n) for text, n in summary.unanswered],
        "candidates": referral_candidates(library, summary.referrals),
    }
