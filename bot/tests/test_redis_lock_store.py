"""The atomic Redis lock store: two Rasa copies never hold the same ticket. Uses the machine's
Redis (MENPAI_TEST_REDIS_URL, default redis://127.0.0.1:6379/1). Run with .venv-bot."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List
from urllib.parse import urlparse

import pytest
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from redis_lock_store import AtomicRedisLockStore

REDIS = urlparse(os.environ.get("MENPAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/1"))


SETTINGS = {"port": REDIS.port or 6379, "db": int(REDIS.path.lstrip("/") or 0)}


def endpoint() -> EndpointConfig:
    return EndpointConfig(url=REDIS.hostname, **SETTINGS)


def tickets_from_two_copies(new_copy: Callable[[], RedisLockStore]) -> List[int]:
    """Two store instances (two Rasa copies) issue 40 tickets each for one conversation at once."""
    copies = [new_copy(), new_copy()]
    conversation = f"lock-test-{uuid.uuid4().hex[:8]}"
    try:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda i: copies[i % 2].issue_ticket(conversation, 60), range(80)))
    finally:
        copies[0].delete_lock(conversation)


def test_concurrent_tickets_are_all_different() -> None:
    tickets = tickets_from_two_copies(lambda: AtomicRedisLockStore(endpoint()))
    assert sorted(tickets) == list(range(80))


def test_rasas_own_redis_store_hands_out_the_same_ticket_twice() -> None:
    """Why the atomic store exists: the race is real, not hypothetical."""
    tickets = tickets_from_two_copies(lambda: RedisLockStore(host=REDIS.hostname, **SETTINGS))
    assert len(set(tickets)) < len(tickets)


def test_cleanup_keeps_the_lock_while_someone_waits_and_deletes_it_after() -> None:
    store = AtomicRedisLockStore(endpoint())
    conversation = f"lock-test-{uuid.uuid4().hex[:8]}"
    first, second = store.issue_ticket(conversation, 60), store.issue_ticket(conversation, 60)
    lock = store.get_lock(conversation)
    assert lock is not None and not lock.is_locked(first) and lock.is_locked(second)
    store.cleanup(conversation, first)
    lock = store.get_lock(conversation)
    assert lock is not None and not lock.is_locked(second)  # the next one in line is served
    store.cleanup(conversation, second)
    assert store.get_lock(conversation) is None


@pytest.fixture(autouse=True)
def _redis_is_there() -> None:
    import redis

    redis.Redis(host=REDIS.hostname, port=REDIS.port or 6379).ping()  # fail loudly, never skip
