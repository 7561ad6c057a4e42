"""What bot/serve.py changes in Rasa before it starts: each patch does what it says. Run with .venv-bot."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, List

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import serve  # noqa: E402


def test_endpoints_follow_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENPAI_ACTION_URL", "http://127.0.0.1:6055/webhook")
    monkeypatch.setenv("MENPAI_RASA_TRACKER_URL", "postgresql://menpai:pw@db.local:5433/rasa")
    monkeypatch.setenv("MENPAI_RASA_LOCK_URL", "redis://127.0.0.1:6379/2")
    data = serve.endpoints()
    assert data["action_endpoint"] == {"url": "http://127.0.0.1:6055/webhook", "enable_selective_domain": True}
    assert data["tracker_store"] == {
        "type": "SQL", "dialect": "postgresql", "url": "db.local", "port": 5433, "db": "rasa",
        "username": "menpai", "password": "pw",
    }
    assert data["lock_store"] == {
        "type": "redis_lock_store.AtomicRedisLockStore", "url": "127.0.0.1", "port": 6379, "db": 2,
    }
    monkeypatch.delenv("MENPAI_RASA_LOCK_URL")
    monkeypatch.setenv("MENPAI_RASA_TRACKER_URL", "sqlite:////tmp/x/tracker.db")
    data = serve.endpoints()
    assert data["tracker_store"]["type"] == "sqlite_tracker_store.SQLiteTrackerStore"
    assert data["tracker_store"]["db"] == "/tmp/x/tracker.db"
    assert "lock_store" not in data


def test_a_second_message_polls_the_conversation_lock_every_20_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.lock_store import InMemoryLockStore

    serve.quick_lock_polling()
    waits: List[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float, *args: Any) -> Any:
        waits.append(seconds)
        return await real_sleep(0, *args)

    async def scenario() -> List[str]:
        store = InMemoryLockStore()
        order: List[str] = []

        async def message(name: str, hold: int) -> None:
            async with store.lock("resident-1"):
                order.append(f"{name} in")
                for _ in range(hold):
                    await real_sleep(0)
                order.append(f"{name} out")

        first = asyncio.create_task(message("first", 50))
        await real_sleep(0)
        monkeypatch.setattr(asyncio, "sleep", sleep)
        await asyncio.gather(first, message("second", 0))
        return order

    order = asyncio.run(scenario())
    assert order == ["first in", "first out", "second in", "second out"]  # still one at a time
    assert waits and set(waits) == {0.02}


def test_action_calls_reuse_one_connection() -> None:
    from rasa.utils.endpoints import EndpointConfig

    serve.persistent_endpoint_sessions()

    async def scenario() -> List[Any]:
        peers: List[Any] = []

        async def webhook(request: web.Request) -> web.Response:
            peers.append(request.transport.get_extra_info("peername") if request.transport else None)
            return web.json_response({"events": [], "responses": [], "echo": (await request.json())["n"]})

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        try:
            answers = [await endpoint.request(json={"n": n}, method="post", timeout=5) for n in range(3)]
        finally:
            await runner.cleanup()
        assert [a["echo"] for a in answers] == [0, 1, 2]
        return peers

    peers = asyncio.run(scenario())
    assert len(peers) == 3 and len(set(peers)) == 1  # one kept-alive connection, not three


def test_the_loaded_model_is_frozen_out_of_full_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from rasa.core import run

    agent = object()

    async def load_agent_on_start(*args: Any, **kwargs: Any) -> Any:
        return agent

    monkeypatch.setattr(run, "load_agent_on_start", load_agent_on_start)
    gc.unfreeze()
    serve.freeze_loaded_model()
    assert run.load_agent_on_start is not load_agent_on_start
    try:
        assert asyncio.run(run.load_agent_on_start("model.tar.gz", None, None, None)) is agent
        assert gc.get_freeze_count() > 1000  # everything alive after the load: Rasa, TF, the model
    finally:
        gc.unfreeze()
