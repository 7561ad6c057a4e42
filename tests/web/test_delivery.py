"""The notifier that wakes the widget's long poll."""

from __future__ import annotations

import asyncio
import threading

import pytest

from web.channels.delivery import Notifier

pytestmark = pytest.mark.unit


def test_notifier_wakes_only_the_waiters_of_that_conversation_from_another_thread() -> None:
    async def scenario() -> tuple[bool, bool, dict[str, set[asyncio.Event]]]:
        notifier = Notifier()
        notifier.bind(asyncio.get_running_loop())
        with notifier.subscribe("a") as a, notifier.subscribe("b") as b:
            thread = threading.Thread(target=notifier.notify, args=("a",))
            thread.start()
            thread.join()
            await asyncio.wait_for(a.wait(), 5)
            await asyncio.sleep(0)
            return a.is_set(), b.is_set(), notifier._waiters

    a_set, b_set, left = asyncio.run(scenario())
    assert a_set and not b_set
    assert left == {}, "waiters are removed when their request ends"


def test_notifier_without_waiters_or_loop_does_nothing() -> None:
    Notifier().notify("nobody")
