"""The resident-facing side under attack: one test per finding of the security review, named after it.

WeChat replay and downgrade; chats bound to their owner; rate limits; idempotent turns.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from tests.web.test_wechat import OPENID, safe_mode, sign, text_xml, wechat_client
from web.db.engine import make_engine
from web.db.store import Store

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
