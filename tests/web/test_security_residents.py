"""The resident-facing side under attack: one test per finding of the security review, named after it.

WeChat replay and downgrade; chats bound to their owner; rate limits; idempotent turns.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.service import KnowledgeBase
from knowledge.settings import RATE_DEFAULTS, Settings
from tests.web.test_wechat import OPENID, safe_mode, sign, text_xml, wechat_client
from web.db.engine import make_engine
from web.db.store import Store
from web.db.tables import Role
from web.errors import RateLimited
from web.ratelimit import Limit, Rate

pytestmark = pytest.mark.integration

FORBIDDEN = 403


@pytest.fixture()
def wx(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> Iterator[TestClient]:
    with wechat_client(settings, kb, tmp_path) as client:
        yield client


@pytest.fixture()
def wx_aes(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> Iterator[TestClient]:
    with wechat_client(settings, kb, tmp_path, aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG") as client:
        yield client


def _wx_messages(client: TestClient) -> list[str]:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return [m.text for m in store.conversations.messages("wx-" + OPENID)]


# ---- 1. WeChat replay and downgrade


def test_wechat_request_with_an_old_timestamp_is_refused(wx: TestClient) -> None:
    stale = str(int(time.time()) - 301)
    r = wx.post("/wechat", params=sign(stale), content=text_xml("结婚登记要带什么", 7001))
    assert r.status_code == FORBIDDEN and r.json()["error"]["code"] == "bad_signature"
    assert _wx_messages(wx) == []
    future = str(int(time.time()) + 301)
    assert wx.get("/wechat", params={**sign(future), "echostr": "x"}).status_code == FORBIDDEN


def test_wechat_request_replayed_with_a_seen_nonce_is_refused(wx: TestClient) -> None:
    params = sign()
    assert wx.post("/wechat", params=params, content=text_xml("结婚登记要带什么", 7002)).status_code == 200
    # The same signed URL again, with another message in the body (the signature does not cover it).
    r = wx.post("/wechat", params=params, content=text_xml("我要人工", 7003))
    assert r.status_code == FORBIDDEN and r.json()["error"]["status"] == FORBIDDEN
    assert _wx_messages(wx).count("我要人工") == 0


def test_wechat_nonce_seen_by_one_web_copy_is_refused_by_another(db_url: str) -> None:
    first, second = Store(make_engine(db_url)), Store(make_engine(db_url))
    first.migrate()
    window = dt.timedelta(seconds=300)
    try:
        assert first.inbound.claim_nonce("n-1", "1700000000", window) is True
        assert second.inbound.claim_nonce("n-1", "1700000000", window) is False
        assert second.inbound.claim_nonce("n-1", "1700000001", window) is True  # nonce and timestamp make the key
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_wechat_plaintext_post_is_refused_when_an_aes_key_is_configured(wx_aes: TestClient) -> None:
    r = wx_aes.post("/wechat", params=sign(), content=text_xml("结婚登记要带什么", 7004))
    assert r.status_code == FORBIDDEN and "encrypt_type=aes" in r.json()["error"]["message"]
    assert _wx_messages(wx_aes) == []


def test_wechat_dtd_inside_the_decrypted_message_is_refused(wx_aes: TestClient) -> None:
    evil = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + text_xml("&a;", 7005)
    params, body = safe_mode(evil)
    r = wx_aes.post("/wechat", params=params, content=body)
    assert r.status_code == 400 and "DTD" in r.json()["error"]["message"]
    assert _wx_messages(wx_aes) == []


def test_wechat_signatures_are_compared_in_constant_time(wx_aes: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    import web.channels.wechat as wechat

    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(wechat.hmac, "compare_digest", spy)
    params, body = safe_mode(text_xml("你好", 7006))
    assert wx_aes.post("/wechat", params=params, content=body).status_code == 200
    assert params["signature"].encode() in compared and params["msg_signature"].encode() in compared


# ---- 2. Chats bound to their owner


@contextmanager
def someone_else(client: TestClient, cookie: str | None = None) -> Iterator[TestClient]:
    """The same app seen by another browser: its own cookie (or none); the resident's comes back after."""
    saved = dict(client.cookies)
    client.cookies.clear()
    if cookie is not None:
        client.cookies.set("menpai_session", cookie)
    try:
        yield client
    finally:
        client.cookies.clear()
        for name, value in saved.items():
            client.cookies.set(name, value)


def _widget_chat(client: TestClient, text: str = "我要人工") -> str:
    """A resident opens a plate page and chats in the widget (which sends no session at first)."""
    client.get("/p/NA010001")
    return str(client.post("/api/chat", json={"text": text, "plate": "NA010001"}).json()["session"])


def _stored(client: TestClient, session: str) -> list[str]:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return [m.text for m in store.conversations.messages(session)]


def test_staff_replies_are_readable_only_by_the_chats_owner(client: TestClient) -> None:
    session = _widget_chat(client)
    client.app.state.store.conversations.add_message(session, Role.STAFF, "您好，我是小林")  # type: ignore[attr-defined]
    assert client.get(f"/api/chat/{session}/messages").status_code == 200
    for cookie in (None, "0123456789abcdef0123456789abcdef", session):  # no cookie, another, the id as cookie
        with someone_else(client, cookie):
            r = client.get(f"/api/chat/{session}/messages")
            # The very answer for an id that does not exist: it does not confirm the chat is there.
            assert r.status_code == 404
            assert r.json() == {"error": {"code": "not_found", "message": f"no conversation {session}", "status": 404}}


def test_another_clients_chat_cannot_be_posted_into(client: TestClient) -> None:
    session = _widget_chat(client)
    before = _stored(client, session)
    with someone_else(client):
        r = client.post("/api/chat", json={"session": session, "text": "冒充居民的消息"})
        assert r.status_code == 404
    with someone_else(client, "0123456789abcdef0123456789abcdef"):
        assert client.post("/api/chat", json={"session": session, "text": "冒充居民的消息"}).status_code == 404
    assert _stored(client, session) == before
    # The owner goes on, with or without naming the session.
    assert client.post("/api/chat", json={"session": session, "text": "还在吗"}).json()["session"] == session
    assert client.post("/api/chat", json={"text": "还在吗"}).json()["session"] == session


def test_leave_message_and_rating_need_the_chats_owner(client: TestClient) -> None:
    session = _widget_chat(client)
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    with someone_else(client):
        left = client.post(f"/api/chat/{session}/leave-message", json={"phone": "13912345678", "text": "回电"})
        rated = client.post("/api/rate", json={"session": session, "target": "chat", "level": 1, "comment": "差"})
        assert left.status_code == 404 and rated.status_code == 404
    assert store.tickets.by_status() == [] and store.workorders.all() == []
    assert client.post("/api/rate", json={"session": session, "target": "chat", "level": 5}).status_code == 201


def test_wechat_chat_ids_are_refused_on_web_routes(client: TestClient) -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    wx_id = "wx-" + OPENID
    store.conversations.get_or_create(wx_id, "wechat")
    store.conversations.add_message(wx_id, Role.STAFF, "工作人员：请带户口本")
    for cookie in (None, wx_id):
        with someone_else(client, cookie):
            assert client.get(f"/api/chat/{wx_id}/messages").status_code == 404
            assert client.post("/api/chat", json={"session": wx_id, "text": "你好"}).status_code == 404
            left = client.post(f"/api/chat/{wx_id}/leave-message", json={"phone": "13912345678", "text": "回电"})
            assert left.status_code == 404
    # Nor can web squat the id a WeChat resident will get on their first message.
    assert client.post("/api/chat", json={"session": "wx-oNotYetWritten01", "text": "你好"}).status_code == 404
    assert store.conversations.maybe("wx-oNotYetWritten01") is None
    assert _stored(client, wx_id) == ["工作人员：请带户口本"]


def test_webhook_to_12345_carries_an_opaque_reference_not_the_conversation_id(client: TestClient) -> None:
    import json

    session = _widget_chat(client)
    assert client.post(f"/api/chat/{session}/leave-message", json={"phone": "13912345678", "text": "回电"}).status_code
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    bodies = [row.body for row in store.webhooks.due(dt.datetime.now(dt.UTC))]
    assert bodies and all(session not in body for body in bodies)
    refs = {json.loads(body)["order"]["conversation"] for body in bodies}
    assert len(refs) == 1 and len(refs.pop()) == 32  # one stable reference for the chat


# ---- 3. Rate limits


@pytest.fixture()
def tight(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> Iterator[TestClient]:
    """The app with small limits, so that a test reaches them in a few requests."""
    from web.app import create_app

    limits = {f"rate_{name}": "2/60" for name in RATE_DEFAULTS}
    s = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'tight.db'}", **limits})
    with TestClient(create_app(s, kb=kb)) as client:
        yield client


def _too_many(r: Any) -> None:
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 3600
    assert r.json()["error"]["code"] == "too_many_requests" and r.json()["error"]["status"] == 429


def test_chat_is_rate_limited_per_session(tight: TestClient) -> None:
    session = _widget_chat(tight, "你好")
    tight.post("/api/chat", json={"session": session, "text": "结婚登记要带什么"})
    r = tight.post("/api/chat", json={"session": session, "text": "第三条"})
    _too_many(r)
    assert "第三条" not in _stored(tight, session)


def test_chat_is_rate_limited_per_ip_across_sessions(tight: TestClient) -> None:
    for i in range(2):
        with someone_else(tight):
            assert tight.post("/api/chat", json={"session": f"api-chat-{i:04}", "text": "你好"}).status_code == 200
    with someone_else(tight):
        _too_many(tight.post("/api/chat", json={"session": "api-chat-0002", "text": "你好"}))


def test_plate_form_chat_is_rate_limited_with_an_html_page(tight: TestClient) -> None:
    for _ in range(2):
        tight.post("/p/NA010001/chat", data={"text": "你好"}, follow_redirects=False)
    r = tight.post("/p/NA010001/chat", data={"text": "你好"}, follow_redirects=False)
    assert r.status_code == 429 and r.headers["content-type"].startswith("text/html") and r.headers["retry-after"]
    assert "提交太频繁了" in r.text


def test_ask_is_rate_limited_per_ip(tight: TestClient) -> None:
    for _ in range(2):
        assert tight.post("/api/ask", json={"q": "结婚登记要带什么"}).status_code == 200
    _too_many(tight.post("/api/ask", json={"q": "结婚登记要带什么"}))


def test_leave_message_is_rate_limited_per_session(tight: TestClient) -> None:
    """Asking for a person again and again, one chat would open ticket after ticket (and 12345 orders)."""
    session = _widget_chat(tight, "我要人工")
    tight.app.state.limiter.rates[Limit.LEAVE_MESSAGE_PER_SESSION] = Rate(1, 3600)  # type: ignore[attr-defined]
    tight.app.state.limiter.rates[Limit.CHAT_PER_SESSION] = Rate(10, 60)  # type: ignore[attr-defined]
    left = tight.post(f"/api/chat/{session}/leave-message", json={"phone": "13912345678", "text": "回电"})
    assert left.status_code == 201
    assert tight.post("/api/chat", json={"session": session, "human": True}).json()["mode"] == "waiting"
    _too_many(tight.post(f"/api/chat/{session}/leave-message", json={"phone": "13912345678", "text": "再回电"}))
    store: Store = tight.app.state.store  # type: ignore[attr-defined]
    assert len(store.tickets.by_status()) == 1 and len(store.workorders.all()) == 1


def test_leave_message_only_while_waiting_for_a_person_or_after_hours(client: TestClient) -> None:
    from knowledge.hours import FixedClock
    from web.chat.policy import HandoffPolicy

    session = _widget_chat(client, "结婚登记要带什么")  # talking to the bot, staff on duty
    r = client.post(f"/api/chat/{session}/leave-message", json={"phone": "13912345678", "text": "回电"})
    assert r.status_code == 409 and r.json()["error"]["status"] == 409 and "找人工帮办" in r.json()["error"]["message"]
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    assert store.tickets.by_status() == [] and store.workorders.all() == []
    chat = client.app.state.chat  # type: ignore[attr-defined]
    saturday = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
    chat.policy = HandoffPolicy("08:00-18:00", clock=FixedClock(saturday))
    r = client.post(f"/api/chat/{session}/leave-message", json={"phone": "13912345678", "text": "回电"})
    assert r.status_code == 201


def test_ratings_are_rate_limited_per_session(tight: TestClient) -> None:
    session = _widget_chat(tight, "你好")
    for level in (5, 1):
        assert tight.post("/api/rate", json={"session": session, "target": "chat", "level": level}).status_code == 201
    _too_many(tight.post("/api/rate", json={"session": session, "target": "chat", "level": 1}))
    store: Store = tight.app.state.store  # type: ignore[attr-defined]
    assert len(store.tickets.by_status()) == 1  # one follow-up ticket, not one per bad rating sent


def test_agency_requests_are_rate_limited_per_ip(tight: TestClient) -> None:
    form = {"item": "marriage-registration", "name": "王阿姨", "phone": "13912345678", "preferred_time": "周五上午"}
    assert tight.post("/api/agency", json={**form, "plate": "NA010001"}).status_code == 201
    assert tight.post("/bang", data={**form, "plate": "NA010001"}).status_code == 200
    _too_many(tight.post("/api/agency", json={**form, "plate": "NA010001"}))
    page = tight.post("/bang", data={**form, "plate": "NA010001"})
    assert (
        page.status_code == 429 and page.headers["content-type"].startswith("text/html") and page.headers["retry-after"]
    )


def test_agency_status_lookups_are_rate_limited_per_ip(tight: TestClient) -> None:
    """Guessing request codes (each shows a resident's item and status) is slowed down."""
    assert tight.get("/api/agency/ZZZZZZ").status_code == 404
    assert tight.get("/bang/status", params={"code": "ZZZZZY"}).status_code == 200
    _too_many(tight.get("/api/agency/ZZZZZX"))
    assert tight.get("/bang/status", params={"code": "ZZZZZW"}).status_code == 429


def test_error_reports_use_the_same_limiter(tight: TestClient) -> None:
    report = {"part": "fee", "text": "收费标准变了"}
    for _ in range(2):
        assert tight.post("/api/guides/marriage-registration/reports", json=report).status_code == 201
    _too_many(tight.post("/api/guides/marriage-registration/reports", json=report))
    form = tight.post("/g/marriage-registration/report", data=report)
    assert form.status_code == 429 and "提交太频繁了" in form.text and form.headers["retry-after"]


def test_forged_x_forwarded_for_does_not_escape_the_ip_limit(tight: TestClient) -> None:
    for i in range(3):
        r = tight.post("/api/ask", json={"q": "结婚登记要带什么"}, headers={"X-Forwarded-For": f"203.0.113.{i}"})
    _too_many(r)


def test_client_ip_is_believed_from_x_forwarded_for_only_behind_a_trusted_proxy() -> None:
    from starlette.requests import Request

    from web.ratelimit import client_ip, trusted_proxies

    def request(peer: str, forwarded: str) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return Request({"type": "http", "client": (peer, 40000), "headers": headers})

    proxies = trusted_proxies("10.0.0.0/8, 192.168.1.5")
    assert client_ip(request("198.51.100.7", "1.2.3.4"), proxies) == "198.51.100.7"  # not from a proxy
    assert client_ip(request("10.1.2.3", "203.0.113.9"), proxies) == "203.0.113.9"
    assert client_ip(request("192.168.1.5", "203.0.113.9, 10.0.0.2"), proxies) == "203.0.113.9"
    # A client's own forged entry on the left is not believed: the proxy appended the real one.
    assert client_ip(request("10.1.2.3", "1.1.1.1, 203.0.113.9"), proxies) == "203.0.113.9"
    assert client_ip(request("10.1.2.3", ""), proxies) == "10.1.2.3"
    assert client_ip(request("10.1.2.3", "1.2.3.4"), trusted_proxies("")) == "10.1.2.3"


def test_rate_limiter_slides_its_window_and_stays_bounded() -> None:
    from web.ratelimit import RateLimiter

    now = [1000.0]
    limiter = RateLimiter({Limit.ASK_PER_IP: Rate(2, 60)}, clock=lambda: now[0], max_keys=3)
    limiter.hit([(Limit.ASK_PER_IP, "a")])
    now[0] += 30
    limiter.hit([(Limit.ASK_PER_IP, "a")])
    with pytest.raises(RateLimited) as refused:
        limiter.hit([(Limit.ASK_PER_IP, "a")])
    assert refused.value.retry_after == 30
    now[0] += 30.5  # the first hit left the window
    limiter.hit([(Limit.ASK_PER_IP, "a")])
    for key in "bcdef":
        limiter.hit([(Limit.ASK_PER_IP, key)])
    assert len(limiter._hits) == 3


# ---- 4. Idempotent turns


def test_retried_chat_message_gets_the_same_reply_and_is_stored_once(client: TestClient) -> None:
    session = _widget_chat(client, "你好")
    body = {"session": session, "text": "结婚登记要带什么", "plate": "NA010001", "client_msg_id": "m-0001_a"}
    first = client.post("/api/chat", json=body)
    stored = _stored(client, session)
    again = client.post("/api/chat", json=body)
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert _stored(client, session) == stored and stored.count("结婚登记要带什么") == 1
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    assert store.analytics.count("question") == 2  # 你好 and the one question, not its retry
    # The same id in the next message of the widget is a new message only in another chat.
    other = client.post("/api/chat", json={**body, "session": "api-chat-other-1"}).json()
    assert other["session"] == "api-chat-other-1" and "结婚登记要带什么" in _stored(client, "api-chat-other-1")


def test_a_first_message_retried_without_its_session_is_answered_once(client: TestClient) -> None:
    """The widget's first message names no session; its retry after a lost reply must not start again."""
    client.get("/p/NA010001")
    body = {"text": "结婚登记要带什么", "plate": "NA010001", "client_msg_id": "first-0001"}
    first = client.post("/api/chat", json=body).json()
    assert client.post("/api/chat", json=body).json() == first
    assert _stored(client, first["session"]).count("结婚登记要带什么") == 1


@pytest.mark.parametrize("bad", ["x" * 65, "has space", "引号", ""])
def test_client_msg_id_is_short_and_plain(client: TestClient, bad: str) -> None:
    r = client.post("/api/chat", json={"text": "你好", "client_msg_id": bad})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_named_turns_are_claimed_once_on_every_database(db_url: str) -> None:
    store = Store(make_engine(db_url))
    store.migrate()
    try:
        assert store.turns.claim("conv-1", "m-1") is True
        assert store.turns.claim("conv-1", "m-1") is False
        assert store.turns.reply("conv-1", "m-1") == (True, None)
        store.turns.finish("conv-1", "m-1", {"session": "conv-1", "mode": "bot", "messages": []})
        assert store.turns.reply("conv-1", "m-1") == (True, {"session": "conv-1", "mode": "bot", "messages": []})
        store.turns.release("conv-1", "m-1")  # an answered turn stays answered
        assert store.turns.reply("conv-1", "m-1") == (True, {"session": "conv-1", "mode": "bot", "messages": []})
        assert store.turns.claim("conv-2", "m-1") is True
        store.turns.release("conv-2", "m-1")  # failed before its answer: the retry takes it at once
        assert store.turns.claim("conv-2", "m-1") is True
    finally:
        store.engine.dispose()
