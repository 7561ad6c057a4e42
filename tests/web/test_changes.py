"""Changes reach every web copy: PostgreSQL LISTEN/NOTIFY wakes another copy's long poll at once.

Two copies here are two Stores, each with its own engine, notifier and feed, on one database.
Without the feed the other copy would see the reply only at its next re-read (3 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from web.channels.delivery import RECHECK_SECONDS, Notifier, PollArgs, long_poll
from web.db.changes import ChangeFeed
from web.db.engine import make_engine
from web.db.store import Store
from web.db.tables import Role

pytestmark = pytest.mark.integration


class Copy:
    """What web/app.py wires for one web process: store → (own notifier, NOTIFY) ; LISTEN → notifier."""

    def __init__(self, url: str) -> None:
        self.notifier = Notifier()
        engine = make_engine(url)
        self.feed = ChangeFeed(engine, self.notifier.notify)

        def changed(conv_id: str) -> None:
            self.notifier.notify(conv_id)
            self.feed.publish(conv_id)

        self.store = Store(engine, on_change=changed)

    def close(self) -> None:
        self.feed.stop()
        self.store.engine.dispose()


@pytest.fixture()
def two_copies(db_url: str) -> Iterator[tuple[Copy, Copy]]:
    a, b = Copy(db_url), Copy(db_url)
    a.store.migrate()
    yield a, b
    a.close()
    b.close()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_staff_reply_on_one_copy_wakes_a_long_poll_held_by_another(two_copies: tuple[Copy, Copy]) -> None:
    a, b = two_copies
    assert a.feed.enabled and b.feed.enabled
    a.store.conversations.get_or_create("wake-1")
    b.feed.start()
    assert b.feed.listening.wait(10), "copy B never started listening"

    async def scenario() -> tuple[list[str], float]:
        b.notifier.bind(asyncio.get_running_loop())
        poll = asyncio.create_task(long_poll(b.notifier, b.store, "wake-1", {Role.STAFF}, PollArgs(wait=10)))
        await asyncio.sleep(0.3)  # B has read, found nothing, and waits
        started = time.perf_counter()
        await asyncio.to_thread(a.store.conversations.add_message, "wake-1", Role.STAFF, "您好，我来帮您")
        changes = await poll
        return [m.text for m in changes.messages], time.perf_counter() - started

    texts, took = asyncio.run(scenario())
    assert texts == ["您好，我来帮您"]
    assert took < min(1.0, RECHECK_SECONDS / 3), f"woken after {took:.2f}s: by a re-read, not by NOTIFY"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_on_sqlite_the_feed_does_nothing(two_copies: tuple[Copy, Copy]) -> None:
    a, _ = two_copies
    assert not a.feed.enabled
    a.feed.start()
    a.feed.publish("anything")  # no error, no thread, no connection
    assert a.feed._thread is None and not a.feed.listening.is_set()


def test_a_copy_ignores_its_own_notifications_and_wakes_for_the_others() -> None:
    woken: list[str] = []
    feed = ChangeFeed(make_engine("sqlite://"), woken.append)
    feed._received(f"{feed.copy_id} conv-mine")
    feed._received("0123456789ab conv-theirs")
    feed._received("garbage")
    assert woken == ["conv-theirs"]
