"""The resident-facing side under attack: one test per finding of the security review, named after it.

WeChat replay and downgrade; chats bound to their owner; rate limits; idempotent turns.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from tests.web.test_wechat import OPENID, safe_mode, sign, text_xml, wechat_client
from web.db.engine import make_engine
from web.db.store import Store
from web.db.tables import Role

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
    bodies = [row.body for row in store.webhooks.due(dt.datetime.now(dt.UTC), 12)]
    assert bodies and all(session not in body for body in bodies)
    refs = {json.loads(body)["order"]["conversation"] for body in bodies}
    assert len(refs) == 1 and len(refs.pop()) == 32  # one stable reference for the chat
