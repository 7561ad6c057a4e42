"""Who a waiting chat is offered to: online agents in turn (round-robin), each under a limit.

An agent sets 在线 / 忙碌 / 离开 (``web.db.tables.Presence``). A new handoff is offered to the
online agent with room who was offered a chat longest ago; their console notifies them (and
only them). Busy and away agents are never offered a chat, and an offer is never an
assignment: the chat stays in the queue and any agent may take it. An offer not taken within
the first-response target passes to the next online agent with room; a chat nobody could be
offered is offered as soon as someone comes online or has room again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from web.db.store import Store
from web.db.tables import StaffRole, utcnow

logger = logging.getLogger(__name__)


@dataclass
class Router:
    """Args:
    store: the database.
    roles: the staff roles that take chats.
    default_limit: chats an agent holds or is offered at once when their own limit is not set.
    offer_seconds: how long an offer waits for its agent before it passes on.
    """

    store: Store
    roles: frozenset[StaffRole]
    default_limit: int = 3
    offer_seconds: int = 60

    def offer(self, conv_id: str, exclude: int | None = None) -> int | None:
        """Offer a waiting chat to the next online agent with room; their id, or None (nobody can)."""
        return self.store.presence.pick(conv_id, self.roles, self.default_limit, exclude)

    def anyone_online(self) -> bool:
        return self.store.presence.online(self.roles) > 0

    def rebalance(self, now: dt.datetime | None = None) -> int:
        """Pass stale offers on and offer the chats nobody holds an offer for; how many offers were made."""
        now = now or utcnow()
        made = 0
        for offer in self.store.presence.stale_offers(now - dt.timedelta(seconds=self.offer_seconds)):
            if self.offer(offer.conversation_id, exclude=offer.staff_id) is not None:
                made += 1
        for conv_id in self.store.presence.unoffered_waiting():
            if self.offer(conv_id) is None:
                break  # nobody has room: the rest wait too
            made += 1
        return made

    async def run_forever(self, interval: float = 5.0) -> None:
        while True:
            try:
                # On the event loop like every other store call: a thread's write transaction would
                # make the loop's own writes wait on SQLite's lock (busy_timeout) and stall every request.
                self.rebalance()
            except Exception:  # keep the loop alive; the queue keeps the work
                logger.exception("chat routing loop")
            await asyncio.sleep(interval)
