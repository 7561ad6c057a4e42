"""Chats staff take over: the waiting queue, claiming, replies and notes, transfers, finishing.

Who may act on a conversation is decided here (its agent, or a supervisor); what the
resident is told at each step is in ANNOUNCE and FINISH.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from knowledge.errors import NotFound
from knowledge.hours import CHINA_TZ
from knowledge.library import Library
from knowledge.service import KnowledgeBase
from web.channels.delivery import Delivery, Notifier, PollArgs, PollGate, long_poll
from web.chat.handoff import HandoffEvent, IllegalTransition, Mode
from web.chat.routing import Router
from web.db.engine import in_thread
from web.db.store import Store
from web.db.tables import Conversation, Presence, Role, Staff, StaffRole, TicketStatus, utcnow
from web.helpdesk.agency import open_requests
from web.helpdesk.ratings import distribution
from web.render.plain import render_text

CLAIMED = "工作人员{name}已接入，为您服务。"
FINISH = {
    "resolve": (HandoffEvent.RESOLVE, "本次服务已结束，感谢您的耐心。欢迎对我们的服务做个评价。"),
    "back": (HandoffEvent.BACK_TO_BOT, "工作人员已把对话交回智能助手，您可以继续提问。"),
    "release": (HandoffEvent.RELEASE, "正在为您转接其他工作人员，请稍等。"),
}


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def seconds_since(when: dt.datetime | None) -> int:
    if when is None:
        return 0
    return max(0, int((utcnow() - _aware(when)).total_seconds()))


def minutes_since(when: dt.datetime | None) -> int:
    return seconds_since(when) // 60


@dataclass
class QueueRow:
    conv: Conversation
    waited_minutes: int
    address: str
    last_text: str
    waited_seconds: int = 0
    since: str = ""  # ISO time the wait started (the page's clock counts on from it)
    offered_to: str = ""  # the agent the chat is offered to

    @property
    def wait_text(self) -> str:
        m, sec = divmod(self.waited_seconds, 60)
        return f"{m}分{sec:02d}秒" if m else f"{sec}秒"


def queue_rows(
    store: Store, library: Library, convs: list[Conversation], offers: dict[str, int] | None = None
) -> list[QueueRow]:
    last = store.conversations.last_resident_texts([c.id for c in convs])
    names = {s.id: s.name for s in store.staff.all()} if offers else {}
    rows = []
    for c in convs:
        plate = library.plates.get(c.plate or "")
        started = c.waiting_since if c.mode is Mode.WAITING else c.claimed_at
        waited = seconds_since(started)
        rows.append(
            QueueRow(
                c,
                waited // 60,
                plate.address if plate else "（未扫门牌）",
                last.get(c.id, ""),
                waited,
                _aware(started).isoformat() if started else "",
                names.get((offers or {}).get(c.id, -1), ""),
            )
        )
    return rows


def desk(store: Store, library: Library, staff: Staff, target_seconds: int = 60) -> dict[str, Any]:
    """The console: who waits (against the first-response target), this staff member's chats and
    presence, open tickets and agency requests."""
    presence = store.presence.of(staff.id)
    return {
        "queue": queue_rows(store, library, store.conversations.queue(), store.presence.offers()),
        "mine": queue_rows(store, library, store.conversations.active_chats(staff.id)),
        "offered": set(store.presence.offers(staff.id)),
        "tickets": store.tickets.by_status(TicketStatus.OPEN),
        "agency": open_requests(store, library),
        "target": target_seconds,
        "presence": presence.state if presence else Presence.AWAY,
        "presences": list(Presence),
    }


def live_state(store: Store, staff: Staff, overdue: int = 0) -> dict[str, Any]:
    """What a live console page shows changing: the queue, the chats offered to this staff member,
    the newest resident message in each of their chats, and how many items are overdue."""
    queue = store.conversations.queue()
    mine = store.conversations.active_chats(staff.id)
    latest = store.conversations.last_resident_ids([c.id for c in mine])
    return {
        "queue": len(queue),
        "ids": [c.id for c in queue],
        "mine": [c.id for c in mine],
        "offered": sorted(store.presence.offers(staff.id)),
        "unread": {c.id: latest.get(c.id, 0) for c in mine},
        "overdue": overdue,
    }


def set_presence(store: Store, staff: Staff, state: Presence, router: Router | None) -> None:
    """在线 / 忙碌 / 离开; coming online takes the waiting chats nobody was offered (round-robin)."""
    store.presence.set(staff.id, state)
    if router is not None:
        router.rebalance()


def claim(store: Store, conv_id: str, staff: Staff) -> None:
    """Take a waiting conversation; IllegalTransition when another staff member was first."""
    store.conversations.apply(
        conv_id, HandoffEvent.CLAIM, staff_id=staff.id, announce=(CLAIMED.format(name=staff.name), "system")
    )


def chat_view(store: Store, library: Library, conv_id: str, staff: Staff) -> dict[str, Any]:
    """One conversation as staff see it: the transcript, the guides used, whom it can go to."""
    conv = store.conversations.find(conv_id)
    messages = store.conversations.messages(conv_id)
    used = [m.payload["item"] for m in messages if m.payload and m.payload.get("item") in library.guides]
    return {
        "conv": conv,
        "plate": library.plates.get(conv.plate or ""),
        "messages": messages,
        "guides_used": [library.guides[c] for c in dict.fromkeys(used)],
        "all_guides": sorted(library.guides.values(), key=lambda g: g.code),
        "staff": [s for s in store.staff.all() if s.id != staff.id and s.active],
        "last_id": messages[-1].id if messages else 0,
    }


async def transcript(
    store: Store, notifier: Notifier, conv_id: str, poll: PollArgs, gate: PollGate | None = None
) -> dict[str, Any]:
    """The whole transcript after an id (notes included), held open like the resident's long poll."""
    await in_thread(store.conversations.find, conv_id)
    return (await long_poll(notifier, store, conv_id, tuple(Role), poll, gate)).to_json()


def own(store: Store, conv_id: str, staff: Staff) -> Conversation:
    """The conversation, when this staff member may act on it (its agent, or a supervisor)."""
    conv = store.conversations.find(conv_id)
    if conv.mode is not Mode.AGENT or (conv.agent_id != staff.id and staff.role is not StaffRole.SUPERVISOR):
        raise IllegalTransition(conv.mode, HandoffEvent.TRANSFER)
    return conv


async def reply(store: Store, delivery: Delivery, conv_id: str, staff: Staff, text: str) -> None:
    def store_reply() -> None:
        own(store, conv_id, staff)
        store.conversations.add_message(conv_id, Role.STAFF, text.strip(), "text", staff_id=staff.id)

    await in_thread(store_reply)
    await delivery.deliver(conv_id, text.strip())


async def send_checklist(
    store: Store, delivery: Delivery, kb: KnowledgeBase, conv_id: str, staff: Staff, item: str, situation: str
) -> None:
    """A guide's checklist as a reply (rendered text, ready for SMS too)."""
    await in_thread(own, store, conv_id, staff)
    if item not in kb.library.guides:
        raise NotFound(f"unknown item {item!r}")
    text = render_text(kb.answer(item, situation or None))
    await in_thread(
        store.conversations.add_message, conv_id, Role.STAFF, text, "text", {"item": item}, staff_id=staff.id
    )
    await delivery.deliver(conv_id, text)


def add_note(store: Store, conv_id: str, staff: Staff, text: str) -> None:
    """An internal note, staff only."""
    store.conversations.find(conv_id)
    store.conversations.add_message(conv_id, Role.NOTE, f"{staff.name}：{text.strip()}", "note", staff_id=staff.id)


def transfer(store: Store, conv_id: str, staff: Staff, to: int) -> None:
    own(store, conv_id, staff)
    target = store.staff.get(to)
    if target is None or not target.active:
        raise NotFound("no such staff member")
    store.conversations.apply(conv_id, HandoffEvent.TRANSFER, staff_id=target.id)
    store.conversations.add_message(conv_id, Role.NOTE, f"{staff.name} 转给 {target.name}", "note", staff_id=staff.id)


async def finish(store: Store, delivery: Delivery, conv_id: str, staff: Staff, action: str) -> None:
    """resolve (and ask for a rating), back (to the bot) or release (to the queue)."""
    if action not in FINISH:
        raise NotFound(f"no action {action}")
    await in_thread(own, store, conv_id, staff)
    event, text = FINISH[action]
    announce = (text, "rate" if action == "resolve" else "system")
    await in_thread(store.conversations.apply, conv_id, event, announce=announce)
    await delivery.deliver(conv_id, text)


def breaches(store: Store, target_seconds: int, days: int = 14) -> dict[str, Any]:
    """First responses over the target, per China day and per agent, over the last ``days`` days."""
    start = utcnow() - dt.timedelta(days=days)
    names = {s.id: s.name for s in store.staff.all()}
    per_day: dict[str, list[int]] = {}
    per_agent: dict[str, list[int]] = {}
    for r in store.first_responses.since(start):
        day = _aware(r.waiting_since).astimezone(CHINA_TZ).date().isoformat()
        who = names.get(r.staff_id or -1, "（无人）")
        breached = int(r.seconds > target_seconds)
        for table, key in ((per_day, day), (per_agent, who)):
            counts = table.setdefault(key, [0, 0, 0])  # responses, breaches, total seconds
            counts[0] += 1
            counts[1] += breached
            counts[2] += r.seconds
    return {
        "by_day": sorted(((k, n, b, round(t / n)) for k, (n, b, t) in per_day.items()), reverse=True),
        "by_agent": sorted(((k, n, b, round(t / n)) for k, (n, b, t) in per_agent.items()), key=lambda r: -r[2]),
    }


def supervision(store: Store, library: Library, target_seconds: int = 60) -> dict[str, Any]:
    """The supervisor's overview: waits against the first-response target and its breaches, agents'
    presence, chats per agent, ratings, open tickets."""
    queue = queue_rows(store, library, store.conversations.queue(), store.presence.offers())
    handled = store.conversations.resolved_by_agent()
    names = {s.id: s.name for s in store.staff.all()}
    ratings = store.ratings.all()
    presence = store.presence.all()
    active = Counter(c.agent_id for c in store.conversations.active_chats())
    return {
        "target": target_seconds,
        "waiting_over": sum(1 for r in queue if r.waited_seconds > target_seconds),
        "breaches": breaches(store, target_seconds),
        "agents": [
            {
                "staff": s,
                "presence": presence[s.id].state if s.id in presence else Presence.AWAY,
                "limit": presence[s.id].max_chats if s.id in presence else None,
                "chats": active.get(s.id, 0),
            }
            for s in store.staff.all()
            if s.active and s.role is not StaffRole.EDITOR
        ],
        "queue": queue,
        "max_wait": max((r.waited_minutes for r in queue), default=0),
        "avg_wait": round(sum(r.waited_minutes for r in queue) / len(queue), 1) if queue else 0,
        "active": len(store.conversations.active_chats()),
        "handled": [(names.get(k, "?"), v) for k, v in handled.most_common()],
        "ratings": distribution(ratings),
        "recent_ratings": ratings[:20],
        "tickets": store.tickets.by_status(TicketStatus.OPEN),
    }


def stored_transcript(store: Store, conv_id: str) -> list[dict[str, Any]]:
    """Every stored message of a conversation, oldest first: role, kind, text, time (for audits, tests)."""
    store.conversations.find(conv_id)
    return [
        {"id": m.id, "role": m.role.value, "kind": m.kind, "text": m.text, "at": m.created_at.isoformat()}
        for m in store.conversations.messages(conv_id)
    ]
