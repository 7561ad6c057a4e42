"""Ratings (好差评): five levels; 不满意 or worse opens a follow-up ticket for the supervisor."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from web.db.store import Store
from web.db.tables import Rating, TicketKind

if TYPE_CHECKING:
    from web.helpdesk.rectification import Rectification

RATING_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
FOLLOW_UP_AT_OR_BELOW = 2  # 不满意


@dataclass(frozen=True)
class Rated:
    rating: int
    label: str
    follow_up_ticket: int | None
    rectification_task: int | None = None


def rate(
    store: Store,
    *,
    target: str,
    level: int,
    comment: str | None,
    session: str | None,
    item: str | None,
    rectification: Rectification | None = None,
) -> Rated:
    """Store a rating of a chat or an answer; a bad one also opens a follow-up ticket and, with
    ``rectification``, its rectification task (整改, due in working days)."""
    conv_id = store.conversations.find(session).id if session else None
    rating = store.ratings.add(target, level, comment, conv_id, item)
    ticket = task = None
    if level <= FOLLOW_UP_AT_OR_BELOW:
        text = f"差评回访：{RATING_LABELS[level]}（{target} {item or ''}）{comment or ''}"
        ticket = store.tickets.add(TicketKind.FOLLOW_UP, text, conv_id=conv_id).id
        if rectification is not None:
            task = rectification.open(rating).id
    return Rated(rating.id, RATING_LABELS[level], ticket, task)


def distribution(ratings: list[Rating]) -> list[tuple[str, int]]:
    """(label, how many) for every level, best first."""
    dist = Counter(r.level for r in ratings)
    return [(RATING_LABELS[level], dist.get(level, 0)) for level in (5, 4, 3, 2, 1)]
