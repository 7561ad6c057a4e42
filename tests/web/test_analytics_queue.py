"""Page-view analytics leave the request path: queued, written in batches, read back, never dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from web.db.store import Store


def test_queued_rows_are_read_back_and_written_in_one_batch(store: Store) -> None:
    for n in range(25):
        store.analytics.record_later("scan", plate="NA010001", town=f"t{n % 3}")
    assert store.analytics.pending == 25
    assert store.analytics.count("scan") == 25  # a read flushes first: nothing queued is invisible
    assert store.analytics.pending == 0 and store.analytics.flush() == 0


def test_a_failed_flush_keeps_the_rows_in_order(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.analytics.record_later("scan", plate="NA010001")
    store.analytics.record_later("nav", plate="NA010002")
    real = store.analytics.db.engine

    class Down:
        def begin(self) -> Any:
            raise ConnectionError("database down")

    monkeypatch.setattr(store.analytics.db, "engine", Down())
    with pytest.raises(ConnectionError):
        store.analytics.flush()
    assert [r["kind"] for r in store.analytics._queue] == ["scan", "nav"]
    monkeypatch.setattr(store.analytics.db, "engine", real)
    assert store.analytics.flush() == 2 and store.analytics.count() == 2


def test_the_flusher_writes_without_a_reader(store: Store) -> None:
    async def run() -> None:
        task = asyncio.create_task(store.analytics.run_flusher(every=0.1))
        store.analytics.record_later("scan", plate="NA010001")
        for _ in range(60):
            await asyncio.sleep(0.05)
            if store.analytics.pending == 0:
                break
        task.cancel()

    asyncio.run(run())
    assert store.analytics.pending == 0 and store.analytics.count("scan") == 1


def test_plate_views_counted_after_the_app_stops(settings: Any, kb: Any, tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from web.app import create_app

    app = create_app(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'q.db'}"}), kb=kb)
    with TestClient(app) as c:
        for _ in range(7):
            assert c.get("/p/NA010001").status_code == 200
        store = c.app.state.store  # type: ignore[attr-defined]
    # shutdown flushed what the flusher had not written yet
    assert store.analytics.pending == 0
    assert store.analytics.count("scan") == 7
