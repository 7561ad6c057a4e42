"""Nothing lost when a part dies (issue 14): WeChat's outbox and MsgIds, the 12345 webhook outbox,
the database off the event loop with timeouts, one error shape for what nobody handled, retention,
bounded chats and polls, and `menpai transcript` / `menpai purge`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, text, update

from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from tests.web.conftest import PG_URL
from tests.web.test_wechat import APPID, OPENID, SECRET, TOKEN, event_xml, reply_content, sign, text_xml
from web.app import create_app
from web.channels.wechat_fake import create_fake_app
from web.db.engine import make_engine
from web.db.store import Store
from web.db.tables import Conversation, OrderStatus, OrderType, Role, StaffRole, WebhookDelivery, utcnow
from web.helpdesk.auth import hash_password
from web.helpdesk.workorders import WebhookSender, WorkOrders

pytestmark = pytest.mark.integration
HOOK_SECRET = "webhook-secret"
CONV = "wx-" + OPENID


# ---------------------------------------------------------------- WeChat: MsgIds and the durable outbox


@contextmanager
def wechat_app(
    settings: Settings, kb: KnowledgeBase, db_url: str, fake_app: FastAPI, **extra: Any
) -> Iterator[TestClient]:
    """The app on a given database, talking to a given fake WeChat API (which outlives the app, as WeChat does)."""
    s = settings.model_copy(
        update={
            "database_url": db_url,
            "wechat_token": SecretStr(TOKEN),
            "wechat_appid": APPID,
            "wechat_secret": SecretStr(SECRET),
            "wechat_api_base": "fake",
            **extra,
        }
    )
    with TestClient(create_app(s, kb=kb, wechat_fake=fake_app), raise_server_exceptions=False) as client:
        yield client


def _fake(fake_app: FastAPI) -> Any:
    return fake_app.state.fake


def _unreachable(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The WeChat API cannot be reached from this copy (network down)."""

    async def down(*args: Any, **kwargs: Any) -> None:
        raise httpx.ConnectError("WeChat API unreachable")

    monkeypatch.setattr(client.app.state.wechat.channel.api, "send_text", down)  # type: ignore[attr-defined]


def _wait(predicate: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_wechat_turn_that_fails_does_not_eat_the_msgid(
    settings: Settings, kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_app = create_fake_app(APPID, SECRET)
    with wechat_app(settings, kb, f"sqlite:///{tmp_path / 'wx.db'}", fake_app) as wx:
        service = wx.app.state.wechat  # type: ignore[attr-defined]
        original = service.chat.turn
        calls = 0

        async def flaky_turn(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("the database went away mid-turn")
            return await original(*args, **kwargs)

        monkeypatch.setattr(service.chat, "turn", flaky_turn)
        first = wx.post("/wechat", params=sign(), content=text_xml("结婚登记要带什么", 7001))
        assert first.status_code == 500
        # WeChat retries the same MsgId: it is answered, not swallowed as "success".
        retry = wx.post("/wechat", params=sign(), content=text_xml("结婚登记要带什么", 7001))
        assert retry.status_code == 200 and "结婚" in reply_content(retry.text)
        assert calls == 2


def test_wechat_retry_of_a_turn_that_failed_midway_stores_the_words_once(
    settings: Settings, kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_app = create_fake_app(APPID, SECRET)
    with wechat_app(settings, kb, f"sqlite:///{tmp_path / 'wx.db'}", fake_app) as wx:
        service = wx.app.state.wechat  # type: ignore[attr-defined]
        rasa = service.chat.rasa
        original = rasa.send
        calls = 0

        async def failing_once(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:  # after the resident's words were stored
                raise RuntimeError("web lost its database connection mid-turn")
            return await original(*args, **kwargs)

        monkeypatch.setattr(rasa, "send", failing_once)
        assert wx.post("/wechat", params=sign(), content=text_xml("换身份证要带什么", 7011)).status_code == 500
        retry = wx.post("/wechat", params=sign(), content=text_xml("换身份证要带什么", 7011))
        assert retry.status_code == 200 and calls == 2
        store: Store = wx.app.state.store  # type: ignore[attr-defined]
        said = [m.text for m in store.conversations.messages(CONV) if m.role is Role.RESIDENT]
        assert said == ["换身份证要带什么"]


def test_wechat_kept_texts_survive_a_web_restart(
    settings: Settings, kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A staff reply and a late answer the API did not take are in the outbox; the next web process sends them."""
    db = f"sqlite:///{tmp_path / 'wx.db'}"
    fake_app = create_fake_app(APPID, SECRET)
    _fake(fake_app).user_wrote(OPENID)
    with wechat_app(settings, kb, db, fake_app) as wx:
        service = wx.app.state.wechat  # type: ignore[attr-defined]
        wx.post("/wechat", params=sign(), content=text_xml("你好", 7101))
        service.config.passive_seconds = 0.05
        _unreachable(wx, monkeypatch)
        wx.portal.call(service.channel.send, CONV, "工作人员：请带上户口本原件")  # type: ignore[union-attr]
        original = service.chat.turn

        async def slow_turn(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0.3)  # slower than the passive budget: answered later, by the API
            return await original(*args, **kwargs)

        monkeypatch.setattr(service.chat, "turn", slow_turn)
        assert wx.post("/wechat", params=sign(), content=text_xml("结婚登记要带什么", 7102)).text == "success"
        store: Store = wx.app.state.store  # type: ignore[attr-defined]
        assert _wait(lambda: store.outbox.unsent(CONV) == 2)
        assert _fake(fake_app).sent == []
        notes = [m.text for m in store.conversations.messages(CONV) if m.role is Role.NOTE]
        assert any("自动重发" in n for n in notes)
    monkeypatch.undo()
    # The web process is gone. Time passes before the next one starts: the retry backoff (2, 4, 8 … s,
    # longer the more sweeps failed while the first process lived) has run out by then.
    between = Store(make_engine(db))
    kept = between.outbox.claim(CONV)
    assert len(kept) == 2
    between.outbox.retry([k.id for k in kept], "web stopped", 0.0)
    between.engine.dispose()
    # A new process on the same database sweeps the outbox at startup.
    with wechat_app(settings, kb, db, fake_app) as wx2:
        store2: Store = wx2.app.state.store  # type: ignore[attr-defined]
        assert _wait(lambda: store2.outbox.unsent(CONV) == 0)
    sent = [m["text"]["content"] for m in _fake(fake_app).sent]
    assert len(sent) == 1 and sent[0].startswith("工作人员：请带上户口本原件") and "结婚" in sent[0]


def test_wechat_outbox_claims_keep_two_copies_from_sending_a_text_twice(store: Store) -> None:
    ids = [store.outbox.add(CONV, f"第{i}条") for i in range(30)]
    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(lambda _: store.outbox.claim(CONV), range(8)))
    claimed = [k.id for batch in claims for k in batch]
    assert sorted(claimed) == ids  # every text claimed once, by one claimer
    assert store.outbox.claim(CONV) == []  # claimed texts are nobody else's until the lease ends


def test_wechat_unsubscribe_deletes_the_residents_data(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    var = tmp_path / "var"
    tracker = var / "bot" / "tracker.db"
    tracker.parent.mkdir(parents=True)
    with sqlite3.connect(tracker) as conn:  # Rasa's SQL tracker store (rasa/core/tracker_store.py)
        conn.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, timestamp REAL,"
            " intent_name TEXT, action_name TEXT, data TEXT)"
        )
        for sender in (CONV, CONV, "wx-someone-else"):
            conn.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, 'user', ?, '{}')",
                (sender, time.time()),
            )
    fake_app = create_fake_app(APPID, SECRET)
    _fake(fake_app).user_wrote(OPENID)
    db = f"sqlite:///{tmp_path / 'wx.db'}"
    with wechat_app(settings, kb, db, fake_app, rasa_tracker_url=f"sqlite:///{tracker}") as wx:
        store: Store = wx.app.state.store  # type: ignore[attr-defined]
        wx.post("/wechat", params=sign(), content=text_xml("换身份证要带什么", 7201))
        store.outbox.add(CONV, "工作人员：稍后回复您", held=True)
        assert store.conversations.messages(CONV)
        r = wx.post("/wechat", params=sign(), content=event_xml("unsubscribe", created=1700000500))
        assert r.text == "success"
        assert store.conversations.maybe(CONV) is None
        assert store.conversations.messages(CONV) == []
        assert store.outbox.unsent(CONV) == 0
    with sqlite3.connect(tracker) as conn:
        left = [row[0] for row in conn.execute("SELECT sender_id FROM events")]
    assert left == ["wx-someone-else"]


# ---------------------------------------------------------------- named web turns when web dies


def test_a_named_turn_whose_web_process_died_is_taken_over_and_its_words_stored_once(store: Store) -> None:
    from web.db.tables import ChatTurn

    assert store.turns.claim("died-chat-01", "m-1") is True
    store.conversations.open_turn("died-chat-01", "换身份证要带什么", client_msg_id="m-1")
    # The process dies here, before the reply: a retry waits while the turn may still be answering …
    assert store.turns.claim("died-chat-01", "m-1") is False
    with store.tx() as s:  # … and takes it over once it has been unanswered for longer than a turn takes
        s.execute(update(ChatTurn).values(created_at=utcnow() - dt.timedelta(minutes=1)))
    assert store.turns.claim("died-chat-01", "m-1") is True
    assert store.turns.claim("died-chat-01", "m-1") is False  # one retry takes it, not two
    store.conversations.open_turn("died-chat-01", "换身份证要带什么", client_msg_id="m-1")
    store.conversations.open_turn("died-chat-01", "那要多少钱", client_msg_id=None)
    said = [m.text for m in store.conversations.messages("died-chat-01") if m.role is Role.RESIDENT]
    assert said == ["换身份证要带什么", "那要多少钱"]


# ---------------------------------------------------------------- 12345 webhook: dead letters, order, claims


class Platform:
    """A local fake 12345 platform: records deliveries; fails while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503)
        with self.lock:
            self.received.append((int(request.headers["x-menpai-delivery"]), json.loads(request.content)))
        return httpx.Response(200, json={"ok": True})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def _due_now(store: Store) -> None:
    with store.tx() as s:
        s.execute(update(WebhookDelivery).values(next_at=utcnow()))


def test_webhook_dead_letter_after_the_allowed_tries_then_sent_again_in_order(store: Store) -> None:
    platform = Platform()
    platform.down = True
    orders = WorkOrders(store, HOOK_SECRET)
    o = orders.create(OrderType.HELP, "老人不会用手机预约")
    orders.advance(o["code"], OrderStatus.DISPATCHED, by="t", department="南安市人社局")
    sender = WebhookSender(store, "http://12345/hook", HOOK_SECRET, platform.client(), max_attempts=3)
    for _ in range(4):
        asyncio.run(sender.run_once())
        _due_now(store)
    health = store.webhooks.health()
    # The first event died after 3 tries; the second waits behind it (never sent before it).
    assert (health.dead, health.held) == (1, 1)
    assert [d["event"] for d in store.webhooks.dead_letters()] == ["created"]
    assert store.webhooks.dead_letters()[0]["attempts"] == 3
    platform.down = False
    asyncio.run(sender.run_once())
    assert platform.received == []  # a dead letter is not retried by itself
    assert store.webhooks.revive() == 1
    assert asyncio.run(sender.run_once()) == 1  # "created"; then the order's next event is free
    assert asyncio.run(sender.run_once()) == 1
    assert [body["event"] for _, body in platform.received] == ["created", "status"]
    assert store.webhooks.health().pending == 0


def test_webhook_events_of_one_order_go_out_in_order_after_a_failure(store: Store) -> None:
    platform = Platform()
    orders = WorkOrders(store, HOOK_SECRET)
    a = orders.create(OrderType.HELP, "甲")
    orders.advance(a["code"], OrderStatus.DISPATCHED, by="t", department="民政局")
    orders.advance(a["code"], OrderStatus.HANDLING, by="t")
    b = orders.create(OrderType.CONSULT, "乙")
    sender = WebhookSender(store, "http://12345/hook", HOOK_SECRET, platform.client())
    platform.down = True
    asyncio.run(sender.run_once())  # a's "created" and b's "created" fail
    platform.down = False
    _due_now(store)
    while asyncio.run(sender.run_once()):
        _due_now(store)
    by_order: dict[str, list[str]] = {}
    for _, body in platform.received:
        by_order.setdefault(body["order"]["code"], []).append(body["order"]["status"])
    assert by_order == {a["code"]: ["受理", "派单", "办理"], b["code"]: ["受理"]}


def test_two_web_copies_never_send_one_webhook_twice(db_url: str) -> None:
    """Two senders (two web copies, each its own engine) on one database: every delivery exactly once."""
    first, second = Store(make_engine(db_url)), Store(make_engine(db_url))
    first.migrate()
    orders = WorkOrders(first, HOOK_SECRET)
    for i in range(40):
        orders.create(OrderType.CONSULT, f"问题{i}")
    platform = Platform()

    async def both() -> None:
        senders = [WebhookSender(s, "http://12345/hook", HOOK_SECRET, platform.client()) for s in (first, second)]
        for _ in range(5):
            await asyncio.gather(*(s.run_once() for s in senders))

    asyncio.run(both())
    ids = [i for i, _ in platform.received]
    assert len(ids) == 40 and len(set(ids)) == 40
    first.engine.dispose()
    second.engine.dispose()


def test_webhook_claim_skips_rows_another_copy_has_locked_on_postgresql() -> None:
    """FOR UPDATE SKIP LOCKED: a claimer does not wait for, nor take, rows another transaction holds."""
    import uuid

    from web.db.engine import make_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    store = Store(make_engine(url, statement_timeout=5))
    try:
        store.migrate()
        orders = WorkOrders(store, HOOK_SECRET)
        for i in range(3):
            orders.create(OrderType.CONSULT, f"问题{i}")
        other = create_engine(url)
        with other.connect() as conn:
            tx = conn.begin()
            locked = conn.execute(text("SELECT id FROM webhook_outbox ORDER BY id LIMIT 1 FOR UPDATE")).scalar()
            started = time.monotonic()
            claimed = [r.id for r in store.webhooks.claim(utcnow())]
            assert time.monotonic() - started < 2  # did not wait for the lock
            assert locked not in claimed and len(claimed) == 2
            tx.rollback()
        other.dispose()
    finally:
        store.engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_healthz_and_supervisors_see_dead_letters(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    s = settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path / 'web.db'}",
            "hotline_webhook_url": "http://127.0.0.1:9/hook",  # nothing listens: every try fails
            "hotline_webhook_secret": SecretStr(HOOK_SECRET),
            "hotline_webhook_max_attempts": 1,
        }
    )
    with TestClient(create_app(s, kb=kb)) as client:
        store: Store = client.app.state.store  # type: ignore[attr-defined]
        client.app.state.workorders.create(OrderType.COMPLAINT, "窗口让我跑了三趟")  # type: ignore[attr-defined]
        sender = client.app.state.webhook  # type: ignore[attr-defined]
        client.portal.call(sender.run_once)  # type: ignore[union-attr]
        client.portal.call(sender.check)  # type: ignore[union-attr]
        health = client.get("/healthz").json()
        assert health["status"] == "degraded" and health["webhook_outbox"]["dead"] == 1
        store.staff.add("boss", "值班长", StaffRole.SUPERVISOR, hash_password("supervisor-pass"))
        client.post("/staff/login", data={"username": "boss", "password": "supervisor-pass"})
        page = client.get("/staff/supervisor").text
        assert ("推送失败" in page and "All connection attempts failed" in page) or "ConnectError" in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        dead = store.webhooks.dead_letters()[0]["id"]
        r = client.post(f"/staff/webhooks/{dead}/revive", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and store.webhooks.health().dead == 0


# ---------------------------------------------------------------- the database off the event loop


@pytest.fixture()
def pg_url() -> Iterator[str]:
    import uuid

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_a_stalled_database_does_not_freeze_requests_that_do_not_need_it(
    settings: Settings, kb: KnowledgeBase, pg_url: str
) -> None:
    """Another connection holds LOCK TABLE on conversations: a chat turn waits (then 503 in the error
    shape, after the statement timeout); /healthz and the plate page answer meanwhile."""
    s = settings.model_copy(update={"database_url": pg_url, "db_statement_timeout": 3.0})
    with TestClient(create_app(s, kb=kb), raise_server_exceptions=False) as client:
        locker = create_engine(pg_url)
        with locker.connect() as conn:
            tx = conn.begin()
            conn.execute(text("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE"))
            with ThreadPoolExecutor(1) as pool:
                started = time.monotonic()
                stalled = pool.submit(client.post, "/api/chat", json={"session": "stall-test-1", "text": "你好"})
                time.sleep(0.3)  # the chat request is now waiting for the lock
                health = client.get("/healthz")
                plate = client.get("/p/NA010001")
                answered_in = time.monotonic() - started
                assert health.status_code == 200 and plate.status_code == 200
                assert answered_in < 2.5 and not stalled.done()
                r = stalled.result(timeout=30)
            tx.rollback()
        locker.dispose()
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "database_unavailable" and r.json()["error"]["status"] == 503
        assert r.headers["retry-after"]
        # Once the database is back, the same chat goes through and nothing of the failed try lingers.
        ok = client.post("/api/chat", json={"session": "stall-test-1", "text": "你好"})
        assert ok.status_code == 200


def test_resident_and_wechat_paths_run_no_database_work_on_the_event_loop(
    settings: Settings, kb: KnowledgeBase, tmp_path: Path
) -> None:
    fake_app = create_fake_app(APPID, SECRET)
    _fake(fake_app).user_wrote(OPENID)
    with wechat_app(settings, kb, f"sqlite:///{tmp_path / 'wx.db'}", fake_app) as client:
        store: Store = client.app.state.store  # type: ignore[attr-defined]
        store.staff.add("lin", "小林", StaffRole.AGENT, hash_password("password-1234"))
        store.on_loop = 0
        r = client.post(
            "/api/chat", json={"session": "loop-test-01", "text": "换身份证要带什么", "client_msg_id": "m1"}
        )
        assert r.status_code == 200
        client.post("/api/chat", json={"session": "loop-test-01", "text": "我要人工", "client_msg_id": "m2"})
        client.get("/api/chat/loop-test-01/messages", params={"wait": 0.2})
        client.get("/p/NA010001")
        client.post("/wechat", params=sign(), content=text_xml("我要人工", 7301))
        client.post("/staff/login", data={"username": "lin", "password": "password-1234"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/staff").text).group(1)  # type: ignore[union-attr]
        client.post(f"/staff/c/{CONV}/claim", data={"csrf": csrf})
        client.post(f"/staff/c/{CONV}/reply", data={"csrf": csrf, "text": "您好，我是小林"})
        client.get(f"/staff/c/{CONV}/messages", params={"wait": 0.1})
        assert _fake(fake_app).sent[-1]["text"]["content"] == "您好，我是小林"
        assert store.on_loop == 0


def test_an_unhandled_error_is_logged_and_answered_in_the_one_error_shape(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    kb = client.app.state.kb  # type: ignore[attr-defined]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(kb, "ask", broken)
    with TestClient(client.app, raise_server_exceptions=False) as c:
        r = c.post("/api/ask", json={"q": "换身份证"})
        page = c.get("/search", params={"q": "换身份证"})
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "系统出了点问题，请稍后再试", "status": 500}}
    assert r.headers["x-content-type-options"] == "nosniff"  # the security headers are on errors too
    assert page.status_code == 500 and "text/html" in page.headers["content-type"]
    assert any("/api/ask failed" in rec.getMessage() and rec.exc_info for rec in caplog.records)


# ---------------------------------------------------------------- bounded


def test_a_full_conversation_is_refused_clearly_and_still_offers_a_person(
    settings: Settings, kb: KnowledgeBase, tmp_path: Path
) -> None:
    s = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'web.db'}", "chat_max_messages": 10})
    with TestClient(create_app(s, kb=kb)) as client:
        for i in range(10):
            assert client.post("/api/chat", json={"session": "full-chat-01", "text": f"问题{i}"}).status_code == 200
        r = client.post("/api/chat", json={"session": "full-chat-01", "text": "还有一个问题"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "conversation_full"
        assert "找人工帮办" in r.json()["error"]["message"]
        store: Store = client.app.state.store  # type: ignore[attr-defined]
        assert store.conversations.resident_messages("full-chat-01") == 10  # the refused words were not stored
        human = client.post("/api/chat", json={"session": "full-chat-01", "human": True})
        assert human.status_code == 200 and human.json()["mode"] == "waiting"
        assert store.conversations.resident_messages("full-chat-01") == 11


def test_the_plate_page_renders_only_the_recent_part_of_a_long_chat(client: TestClient) -> None:
    from web.routes.pages import TRANSCRIPT_RECENT

    store: Store = client.app.state.store  # type: ignore[attr-defined]
    r = client.post("/api/chat", json={"text": "你好"})  # the browser's chat, by its cookie
    session = r.json()["session"]
    for i in range(120):
        store.conversations.add_message(session, Role.STAFF, f"第{i:03d}条回复", "text")
    page = client.get("/p/NA010001").text
    assert "第119条回复" in page and "第000条回复" not in page
    shown = len(re.findall(r"第\d{3}条回复", page))
    assert shown <= TRANSCRIPT_RECENT
    assert f"更早的 {122 - TRANSCRIPT_RECENT} 条消息没有显示" in page


def test_held_long_polls_are_limited(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> None:
    s = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'web.db'}", "max_long_polls": 1})
    with TestClient(create_app(s, kb=kb)) as client:
        session = client.post("/api/chat", json={"session": "poll-limit-01", "text": "你好"}).json()["session"]
        url = f"/api/chat/{session}/messages"
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(client.get, url, params={"wait": 2})
            assert _wait(lambda: client.app.state.polls.held == 1, 5)  # type: ignore[attr-defined]
            refused = client.get(url, params={"wait": 2})
            quick = client.get(url)  # a poll that does not wait is not held
            assert held.result(10).status_code == 200
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "busy"
        assert refused.headers["retry-after"] and quick.status_code == 200


def test_admin_stats_are_counted_by_the_database(db_url: str, library: Any) -> None:
    from web.db.engine import make_engine
    from web.helpdesk.analytics import usage

    store = Store(make_engine(db_url))
    store.migrate()
    for kind, plate, item, detail in [
        ("scan", "NA010001", None, None),
        ("scan", "NA010001", None, None),
        ("scan", "NA010002", None, None),
        ("answer", None, "id-card-renew", None),
        ("unanswered", None, None, "怎么养猫"),
        ("unanswered", None, None, "怎么养猫"),
        ("referral", None, None, "ref:nope 问的话"),
    ]:
        store.analytics.record(kind, plate=plate, item=item, detail=detail)
    stats = usage(store, library, 14)
    assert dict(stats["totals"])["扫码"] == 3 and dict(stats["totals"])["没答上"] == 2
    assert [(b.label, b.value) for b in stats["by_plate"]] == [("NA010001", 2), ("NA010002", 1)]
    assert stats["unanswered"] == [("怎么养猫", 2)] and stats["candidates"] == [("nope", 1)]
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%m-%d")
    assert [(d, c["scan"]) for d, c in stats["day_rows"]] == [(today, 3)]
    store.engine.dispose()


# ---------------------------------------------------------------- retention, purge, transcript


def _age(store: Store, conv_id: str, days: int) -> None:
    with store.tx() as s:
        s.execute(
            update(Conversation).where(Conversation.id == conv_id).values(updated_at=utcnow() - dt.timedelta(days=days))
        )


def test_purge_deletes_what_is_past_its_retention(settings: Settings, store: Store) -> None:
    from web.db.tables import TicketKind
    from web.helpdesk.retention import Retention

    for conv in ("old-chat-0001", "new-chat-0001"):
        store.conversations.get_or_create(conv, "web")
        store.conversations.add_message(conv, Role.RESIDENT, "身份证丢了", "text")
    ticket = store.tickets.add(TicketKind.CALLBACK, "请回电", "old-chat-0001", "13912345678")
    _age(store, "old-chat-0001", 200)
    store.analytics.record("unanswered", detail="很久以前的问题")
    retention = Retention(store, settings.model_copy(update={"retention_conversation_days": 180}))
    dry = retention.purge(dry_run=True)
    assert (dry.counts["conversations"], dry.counts["messages"], dry.counts["analytics_details"]) == (1, 1, 0)
    assert store.conversations.maybe("old-chat-0001") is not None  # a dry run deletes nothing
    later = utcnow() + dt.timedelta(days=100)  # the analytics detail is past its 90 days by then
    done = retention.purge(now=later)
    assert (done.counts["conversations"], done.counts["messages"], done.counts["analytics_details"]) == (1, 1, 1)
    assert store.conversations.maybe("old-chat-0001") is None and store.conversations.messages("old-chat-0001") == []
    assert store.conversations.maybe("new-chat-0001") is not None
    kept = [t for t in store.tickets.by_status(None) if t.id == ticket.id]
    assert kept and kept[0].conversation_id is None  # the ticket stays, without the chat
    assert store.analytics.unanswered(utcnow() - dt.timedelta(days=1), 10) == []


def test_menpai_purge_and_transcript_commands(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from web.cli import main
    from web.db.engine import make_engine

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MENPAI_DATABASE_URL", db)
    monkeypatch.setenv("MENPAI_VAR_PATH", str(tmp_path))
    store = Store(make_engine(db))
    store.migrate()
    store.conversations.get_or_create("cli-chat-0001", "web")
    store.conversations.add_message("cli-chat-0001", Role.RESIDENT, "换身份证要带什么", "text")
    store.conversations.add_message("cli-chat-0001", Role.BOT, "带上旧证", "answer")
    _age(store, "cli-chat-0001", 400)

    assert main(["transcript", "cli-chat-0001", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(m["role"], m["kind"], m["text"]) for m in out["messages"]] == [
        ("resident", "text", "换身份证要带什么"),
        ("bot", "answer", "带上旧证"),
    ]
    assert all(m["at"] for m in out["messages"])
    assert store.audit.latest()[0].action == "transcript.cli"  # the operator's look is in the audit log
    assert main(["transcript", "no-such-chat"]) == 1

    assert main(["purge", "--dry-run"]) == 0
    assert re.search(r"conversations\s+1\s+would delete", capsys.readouterr().out)
    assert store.conversations.maybe("cli-chat-0001") is not None
    assert main(["purge"]) == 0
    assert re.search(r"messages\s+2\s+deleted", capsys.readouterr().out)
    assert store.conversations.maybe("cli-chat-0001") is None
    store.engine.dispose()
