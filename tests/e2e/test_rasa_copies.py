"""Several Rasa copies, as ARCHITECTURE.md grows past one machine: Rasa's SQL tracker store on
PostgreSQL and its Redis lock store, shared by two real Rasa servers and one action server.

A conversation started on one copy goes on on the other, and two messages of one resident
sent to both copies at once are handled one after the other, none lost.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from knowledge.service import KnowledgeBase
from scripts.stack import Bot, start_actions, start_rasa
from web.contract import retrieval_metadata

pytestmark = pytest.mark.e2e

PG_URL = os.environ.get("MENPAI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MENPAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


@pytest.fixture(scope="module")
def tracker_db() -> Iterator[str]:
    """A throw-away PostgreSQL database for Rasa's tracker store; its URL as bot/serve.py reads it."""
    name = f"menpai_rasa_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(PG_URL).set(drivername="postgresql", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory, tracker_db: str) -> Iterator[list[Bot]]:
    tmp = tmp_path_factory.mktemp("rasa-copies")
    env = {"MENPAI_RASA_TRACKER_URL": tracker_db, "MENPAI_RASA_LOCK_URL": REDIS_URL}
    with ExitStack() as stack:
        actions_url, _ = start_actions(stack, tmp)

        def one(_: int) -> tuple[ExitStack, Bot]:
            own = ExitStack()
            try:
                return own, start_rasa(own, tmp, timeout=240, actions_url=actions_url, env=env)
            except BaseException:
                own.close()
                raise

        with ThreadPoolExecutor(2) as pool:  # both load their model at once
            started = list(pool.map(one, range(2)))
        for own, _ in started:
            stack.enter_context(own)
        yield [bot for _, bot in started]


def say(bot: Bot, kb: KnowledgeBase, sender: str, message: str) -> list[dict[str, Any]]:
    """One turn straight to a Rasa copy's REST channel, with the metadata web would send."""
    metadata = {"plate": "NA010001", "retrieval": retrieval_metadata(kb.library, kb.retriever.search(message))}
    r = httpx.post(
        f"{bot.url}/webhooks/rest/webhook",
        json={"sender": sender, "message": message, "metadata": metadata},
        timeout=30,
    )
    r.raise_for_status()
    return [m["custom"] for m in r.json() if isinstance(m.get("custom"), dict)]


def stored_user_texts(tracker_db: str, sender: str) -> list[str]:
    engine = create_engine(tracker_db.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT data::json->>'text' FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
                {"s": sender},
            )
            return [r[0] for r in rows]
    finally:
        engine.dispose()


def test_a_conversation_goes_on_on_the_other_copy(copies: list[Bot], kb: KnowledgeBase, tracker_db: str) -> None:
    a, b = copies
    sender = f"copies-{uuid.uuid4().hex[:8]}"
    first = say(a, kb, sender, "结婚登记要带什么")
    assert first and first[0]["item"] == "marriage-registration"
    # The follow-up names no service: copy B knows which one from the tracker copy A stored.
    fee = say(b, kb, sender, "那要多少钱")
    assert fee == [
        {"kind": "answer", "item": "marriage-registration", "situation": None, "aspect": "fee", "follow_up": True}
    ]
    assert stored_user_texts(tracker_db, sender) == ["结婚登记要带什么", "那要多少钱"]


def test_two_messages_to_both_copies_at_once_are_both_kept(
    copies: list[Bot], kb: KnowledgeBase, tracker_db: str
) -> None:
    """Without a shared lock both copies would load the same tracker, and the second save would
    skip events (Rasa stores the events past the count already stored)."""
    a, b = copies
    sender = f"copies-{uuid.uuid4().hex[:8]}"
    say(a, kb, sender, "换身份证要带什么")
    for _ in range(3):
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(lambda bt: say(bt[0], kb, sender, bt[1]), [(a, "那要多少钱"), (b, "在哪里办")]))
        assert all(replies)
    texts = stored_user_texts(tracker_db, sender)
    assert texts[0] == "换身份证要带什么" and len(texts) == 7
    assert sorted(texts[1:]) == sorted(["那要多少钱", "在哪里办"] * 3)
