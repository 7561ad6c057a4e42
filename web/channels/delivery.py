"""Delivering staff replies to residents: one interface, one implementation per channel.

The web widget long-polls /api/chat/{session}/messages?wait=25: the request is
held open until the conversation changes (a ``Notifier`` wakes it the moment a
staff or system message, or a mode change, is committed in this process) and
re-reads the database every few seconds so that a change made by another web copy
arrives too. Other channels (WeChat's customer-service API) register a Channel.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Query

from web.db.engine import in_thread
from web.db.store import Store
from web.db.tables import Message, Role
from web.errors import TooBusy

logger = logging.getLogger(__name__)


class Channel(Protocol):
    async def send(self, conversation_id: str, text: str) -> None: ...


class WebChannel:
    """Messages are already stored; the widget picks them up."""

    async def send(self, conversation_id: str, text: str) -> None:
        return None


class Delivery:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.channels: dict[str, Channel] = {"web": WebChannel()}

    def register(self, name: str, channel: Channel) -> None:
        self.channels[name] = channel

    async def deliver(self, conversation_id: str, text: str) -> None:
        conv = await in_thread(self.store.conversations.find, conversation_id)
        channel = self.channels.get(conv.channel)
        if channel is None:
            logger.error("no delivery channel %r for conversation %s", conv.channel, conversation_id)
            return
        await channel.send(conversation_id, text)


class Notifier:
    """Wakes long-poll requests waiting on a conversation; safe to call from any thread."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the event loop the waiters live on (called in the app's lifespan)."""
        self._loop = loop

    @contextmanager
    def subscribe(self, conv_id: str) -> Iterator[asyncio.Event]:
        """An event set on the next change of ``conv_id``; subscribe before reading, so nothing slips by."""
        event = asyncio.Event()
        with self._lock:
            self._waiters.setdefault(conv_id, set()).add(event)
        try:
            yield event
        finally:
            with self._lock:
                waiting = self._waiters.get(conv_id)
                if waiting is not None:
                    waiting.discard(event)
                    if not waiting:
                        del self._waiters[conv_id]

    def notify(self, conv_id: str) -> None:
        with self._lock:
            events = list(self._waiters.get(conv_id, ()))
        if not events or self._loop is None or self._loop.is_closed():
            return
        for event in events:
            self._loop.call_soon_threadsafe(event.set)


class PollGate:
    """At most ``limit`` long polls held at once by this copy: each one holds a connection and
    memory, so past the limit a poll is refused (503, Retry-After) instead of piling up."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self.held >= self.limit:
            raise TooBusy(f"too many live connections on this server ({self.limit}); try again shortly")
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1


LONG_POLL_MAX_SECONDS = 25  # below common proxy idle timeouts (30–60 s)
RECHECK_SECONDS = 3.0  # a change committed by another web copy is seen within this


@dataclass
class Changes:
    mode: str
    messages: list[Message]
    last_id: int

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "messages": [_message_json(m) for m in self.messages],
            "last_id": self.last_id,
        }


def _message_json(m: Message) -> dict[str, object]:
    out: dict[str, object] = {"id": m.id, "role": m.role.value, "kind": m.kind, "text": m.text}
    if m.kind == "image" and m.payload and m.payload.get("upload"):
        out["image"] = m.payload["upload"]  # a resident's photo (staff only: residents' polls carry no resident lines)
    return out


@dataclass(frozen=True)
class PollArgs:
    """What a long-poll caller already has: the last message id and the mode it shows."""

    after: int = 0
    wait: float = 0
    known_mode: str | None = None


MAX_MESSAGE_ID = 2**63 - 1  # a message id is a 64-bit integer in every database we run on


async def poll_args(
    after: Annotated[int, Query(ge=0, le=MAX_MESSAGE_ID)] = 0,
    wait: Annotated[float, Query(ge=0, le=LONG_POLL_MAX_SECONDS)] = 0,
    mode: Annotated[str | None, Query(max_length=16)] = None,
) -> PollArgs:
    """Query parameters of a long poll (a FastAPI dependency)."""
    return PollArgs(after, wait, mode)


async def long_poll(
    notifier: Notifier,
    store: Store,
    conv_id: str,
    roles: Collection[Role],
    args: PollArgs,
    gate: PollGate | None = None,
) -> Changes:
    """Messages of ``roles`` after ``args.after``; with ``args.wait``, held until there is one,
    or the mode differs from ``args.known_mode``, or ``wait`` seconds pass.

    The database is read off the event loop; a held poll counts against ``gate``."""
    if args.wait <= 0 or gate is None:
        return await _poll(notifier, store, conv_id, roles, args)
    with gate.hold():
        return await _poll(notifier, store, conv_id, roles, args)


def _read(store: Store, conv_id: str, roles: Collection[Role], after: int) -> tuple[str, list[Message]]:
    conv = store.conversations.maybe(conv_id)
    rows = [m for m in store.conversations.messages(conv_id, after) if m.role in roles] if conv else []
    return (conv.mode.value if conv else "bot"), rows


async def _poll(notifier: Notifier, store: Store, conv_id: str, roles: Collection[Role], args: PollArgs) -> Changes:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.wait
    after, known_mode = args.after, args.known_mode
    while True:
        with notifier.subscribe(conv_id) as changed:  # before reading, so no change slips by
            mode, rows = await in_thread(_read, store, conv_id, roles, after)
            remaining = deadline - loop.time()
            if rows or (known_mode is not None and known_mode != mode) or remaining <= 0:
                return Changes(mode, rows, rows[-1].id if rows else after)
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, RECHECK_SECONDS))
