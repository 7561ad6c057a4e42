"""Search for staff: conversations, tickets, work orders and 帮办 requests, as the role may see them.

By text (words in messages, ticket texts, order contents and replies, request addresses), door
plate, phone (digits; shown masked), code (work order, 帮办 or conversation id) and date (a
China day). A role sees only the kinds its actions cover (conversations: chats; tickets;
work orders; 帮办 requests); every search is audit-logged with what was asked (masked) and
how many records of each kind were shown.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from knowledge.errors import BadRequest
from knowledge.hours import CHINA_TZ
from knowledge.schema import plate_code
from web.db.search import Criteria
from web.db.store import Store
from web.helpdesk import audit
from web.helpdesk.audit import Audited
from web.helpdesk.auth import StaffSession
from web.helpdesk.roles import Action, allowed
from web.privacy import mask_pii

KINDS: dict[str, Action] = {
    "conversations": Action.CHATS,
    "tickets": Action.TICKETS,
    "work_orders": Action.WORKORDERS,
    "agency": Action.AGENCY,
}
KIND_LABELS = {"conversations": "会话", "tickets": "留言回电", "work_orders": "12345 工单", "agency": "帮办代办"}


def criteria(text: str = "", plate: str = "", phone: str = "", code: str = "", date: str = "") -> Criteria:
    """The search form's fields, checked: a phone needs 4+ digits, a date is YYYY-MM-DD."""
    digits = re.sub(r"\D", "", phone)
    if phone.strip() and len(digits) < 4:
        raise BadRequest("a phone search needs at least 4 digits")
    start = end = None
    if date.strip():
        try:
            day = dt.date.fromisoformat(date.strip())
        except ValueError:
            raise BadRequest(f"date {date!r} must be YYYY-MM-DD, e.g. 2026-12-02") from None
        start = dt.datetime.combine(day, dt.time(0), CHINA_TZ).astimezone(dt.UTC)
        end = start + dt.timedelta(days=1)
    return Criteria(
        text=text.strip(),
        plate=plate_code(plate.strip()) if plate.strip() else "",
        phone=digits,
        code=code.strip().upper().replace(" ", ""),
        start=start,
        end=end,
    )


@dataclass
class Found:
    kinds: list[str]  # the kinds this role may search
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.results.values())


def search(store: Store, request: Request, session: StaffSession, c: Criteria) -> Found:
    """The records this staff member may see that match; the search is audit-logged."""
    kinds = [k for k, action in KINDS.items() if allowed(session.staff.role, action)]
    found = Found(kinds)
    if c.empty():
        return found
    if "conversations" in kinds:
        found.results["conversations"] = [
            {"id": cv.id, "channel": cv.channel, "plate": cv.plate, "mode": cv.mode, "at": cv.created_at, "hit": hit}
            for cv, hit in store.search.conversations(c)
        ]
    if "tickets" in kinds:
        found.results["tickets"] = [
            {
                "id": t.id,
                "kind": t.kind,
                "status": t.status,
                "text": t.text,
                "phone": mask_pii(t.phone or ""),
                "at": t.created_at,
            }
            for t in store.search.tickets(c)
        ]
    if "work_orders" in kinds:
        found.results["work_orders"] = [
            {
                "code": o.code,
                "type": o.kind,
                "status": o.status,
                "content": o.content,
                "phone": mask_pii(o.callback_phone or ""),
                "plate": o.plate,
                "at": o.created_at,
            }
            for o in store.search.work_orders(c)
        ]
    if "agency" in kinds:
        found.results["agency"] = [
            {
                "code": a.code,
                "item": a.item,
                "status": a.status,
                "name": a.name,
                "phone": mask_pii(a.phone),
                "address": a.address,
                "at": a.created_at,
            }
            for a in store.search.agency(c)
        ]
    asked = " ".join(
        f"{k}={v}"
        for k, v in (
            ("text", c.text),
            ("plate", c.plate),
            ("phone", c.phone),
            ("code", c.code),
            ("date", c.start.date().isoformat() if c.start else ""),
        )
        if v
    )
    counts = ",".join(f"{k}:{len(v)}" for k, v in found.results.items())
    audit.record(store, request, session, Audited.SEARCH, f"{asked} → {counts}")
    return found
