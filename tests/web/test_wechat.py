"""WeChat message server, against XML exactly as WeChat sends it, and the local fake of its API."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import xmltodict
from fastapi.testclient import TestClient
from wechatpy.crypto import WeChatCrypto

from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from web.app import create_app

pytestmark = pytest.mark.integration

TOKEN, APPID, SECRET = "mytoken", "wx1234567890abcdef", "s3cret-app"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OPENID = "oResident0000000000000001"


def sign(timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
    """URL parameters as WeChat signs them: a fresh timestamp and nonce unless given."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:16]
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce}


def safe_mode(xml: str, timestamp: str | None = None, nonce: str | None = None) -> tuple[dict[str, str], str]:
    """URL parameters and body of a safe-mode (AES) message, as WeChat sends it."""
    params = sign(timestamp, nonce)
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    envelope = xmltodict.parse(crypto.encrypt_message(xml, params["nonce"], params["timestamp"]))["xml"]
    body = (
        f"<xml><ToUserName><![CDATA[gh_menpai]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    )
    return {**params, "encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}, body


def text_xml(content: str, msg_id: int, openid: str = OPENID) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_menpai]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(event: str, key: str = "", openid: str = OPENID, created: int = 1700000000) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_menpai]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


@contextmanager
def wechat_client(settings: Settings, kb: KnowledgeBase, tmp_path: Path, aes_key: str = "") -> Iterator[TestClient]:
    """The app with /wechat on the local fake: plaintext mode, or safe mode with an EncodingAESKey."""
    from pydantic import SecretStr

    s = settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path / 'wx.db'}",
            "wechat_token": SecretStr(TOKEN),
            "wechat_appid": APPID,
            "wechat_secret": SecretStr(SECRET),
            "wechat_aes_key": SecretStr(aes_key) if aes_key else None,
            "wechat_api_base": "fake",
        }
    )
    with TestClient(create_app(s, kb=kb)) as client:
        client.app.state.wechat_fake.state.fake.user_wrote(OPENID)  # type: ignore[attr-defined]
        yield client


@pytest.fixture()
def wx(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> Iterator[TestClient]:
    """Plaintext mode (明文模式): no EncodingAESKey."""
    with wechat_client(settings, kb, tmp_path) as client:
        yield client


@pytest.fixture()
def wx_aes(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> Iterator[TestClient]:
    """Safe mode (安全模式): an EncodingAESKey is configured, so every message must come encrypted."""
    with wechat_client(settings, kb, tmp_path, AES_KEY) as client:
        yield client


def fake(client: TestClient) -> Any:
    return client.app.state.wechat_fake.state.fake  # type: ignore[attr-defined]


def reply_content(body: str) -> str:
    return str(xmltodict.parse(body)["xml"]["Content"])


def test_signature_test_vector_from_the_reference() -> None:
    assert sign("1409304348", "xxxxxx")["signature"] == "48062c83b0a00f9fdf280a85313c7376cf2b0f1b"


def test_url_verification_returns_echostr_unchanged(wx: TestClient) -> None:
    r = wx.get("/wechat", params={**sign(), "echostr": "5837397749137209431"})
    assert r.status_code == 200 and r.text == "5837397749137209431"


@pytest.mark.parametrize("params", [{"signature": "0" * 40, "timestamp": "1", "nonce": "2"}, {}])
def test_bad_or_missing_signature_is_403_without_a_stack_trace(wx: TestClient, params: dict[str, str]) -> None:
    r = wx.get("/wechat", params={**params, "echostr": "x"})
    assert r.status_code == 403
    assert r.json() == {"error": {"code": "bad_signature", "message": "signature check failed", "status": 403}}
    r = wx.post("/wechat", params=params, content=text_xml("你好", 1))
    assert r.status_code == 403 and "Traceback" not in r.text


def test_plaintext_question_gets_a_passive_text_answer(wx: TestClient) -> None:
    r = wx.post("/wechat", params=sign(), content=text_xml("结婚登记要带什么", 1001))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    doc = xmltodict.parse(r.text)["xml"]
    assert doc["ToUserName"] == OPENID and doc["FromUserName"] == "gh_menpai" and doc["MsgType"] == "text"
    assert "结婚" in doc["Content"] and "/g/marriage-registration" in doc["Content"]
    assert len(doc["Content"].encode()) < 2048


def test_retries_and_concurrent_duplicates_give_one_answer_and_one_stored_message(wx: TestClient) -> None:
    xml = text_xml("换身份证要带什么", 2002)
    with ThreadPoolExecutor(4) as pool:
        # WeChat signs every retry afresh (new timestamp and nonce); MsgId is what repeats.
        replies = list(pool.map(lambda _: wx.post("/wechat", params=sign(), content=xml), range(4)))
    assert all(r.status_code == 200 for r in replies)
    answered = [r.text for r in replies if r.text != "success"]
    assert answered and len(set(answered)) == 1
    stored = wx.app.state.store.conversations.messages("wx-" + OPENID)  # type: ignore[attr-defined]
    assert [m.text for m in stored if m.role.value == "resident"] == ["换身份证要带什么"]


def test_safe_mode_encrypted_round_trip(wx_aes: TestClient) -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    params, body = safe_mode(text_xml("公积金租房怎么提取", 3003))
    r = wx_aes.post("/wechat", params=params, content=body)
    assert r.status_code == 200
    out = xmltodict.parse(r.text)["xml"]
    plain = crypto.decrypt_message(r.text, out["MsgSignature"], out["TimeStamp"], out["Nonce"])
    assert "公积金" in reply_content(plain)


def test_safe_mode_bad_msg_signature_is_403_and_nothing_stored(wx_aes: TestClient) -> None:
    for extra in ({"msg_signature": "f" * 40}, {"msg_signature": ""}):
        params, body = safe_mode(text_xml("你好", 3004))
        r = wx_aes.post("/wechat", params={**params, **extra}, content=body)
        assert r.status_code == 403
    assert wx_aes.app.state.store.conversations.messages("wx-" + OPENID) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"<xml><Content>unclosed", 400),
        (b"not xml at all", 400),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>', 400),
        (b"<xml><FromUserName>x</FromUserName><Content>" + b"a" * 40000 + b"</Content></xml>", 400),
        ("<xml>\u4f60</xml>".encode("gbk"), 400),
    ],
)
def test_malformed_or_oversized_xml_is_400_and_nothing_stored(wx: TestClient, body: bytes, status: int) -> None:
    r = wx.post("/wechat", params=sign(), content=body)
    assert r.status_code == status and r.json()["error"]["code"] == "bad_request"
    assert wx.app.state.store.analytics.count("question") == 0  # type: ignore[attr-defined]


def ask_a_slow_bot(wx: TestClient, text: str, msg_id: int) -> list[dict[str, Any]]:
    """Post a question while the bot takes longer than the passive budget: WeChat gets
    `success`, and the answer comes later by the customer-service API (returned)."""
    service = wx.app.state.wechat  # type: ignore[attr-defined]
    service.config.passive_seconds = 0.05
    original = service.chat.turn

    async def slow_turn(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.5)  # Rasa taking too long
        return await original(*args, **kwargs)

    service.chat.turn = slow_turn
    r = wx.post("/wechat", params=sign(), content=text_xml(text, msg_id))
    assert r.text == "success"
    deadline = time.monotonic() + 10
    while not fake(wx).sent and time.monotonic() < deadline:
        time.sleep(0.05)
    return fake(wx).sent


def test_slow_bot_replies_success_then_delivers_by_customer_service_api(wx: TestClient) -> None:
    sent = ask_a_slow_bot(wx, "结婚登记要带什么", 4004)
    assert sent and sent[0]["touser"] == OPENID
    assert "结婚" in sent[0]["text"]["content"]


def test_customer_service_refreshes_an_expired_token_once(wx: TestClient) -> None:
    api = wx.app.state.wechat.channel.api  # type: ignore[attr-defined]
    portal_run = wx.portal.call  # type: ignore[union-attr]
    portal_run(api.send_text, OPENID, "第一条")
    assert fake(wx).token_calls == 1
    fake(wx).expire_tokens()
    portal_run(api.send_text, OPENID, "第二条")
    assert fake(wx).token_calls == 2
    assert [m["text"]["content"] for m in fake(wx).sent] == ["第一条", "第二条"]


def test_concurrent_sends_share_one_token_refresh(wx: TestClient) -> None:
    api = wx.app.state.wechat.channel.api  # type: ignore[attr-defined]

    async def many() -> None:
        await asyncio.gather(*(api.send_text(OPENID, f"消息{i}") for i in range(5)))

    wx.portal.call(many)  # type: ignore[union-attr]
    assert fake(wx).token_calls == 1 and len(fake(wx).sent) == 5


def notes(wx: TestClient) -> list[str]:
    store = wx.app.state.store  # type: ignore[attr-defined]
    return [m.text for m in store.conversations.messages("wx-" + OPENID) if m.role.value == "note"]


def test_45015_keeps_the_answer_for_the_next_message(wx: TestClient) -> None:
    channel = wx.app.state.wechat.channel  # type: ignore[attr-defined]
    wx.post("/wechat", params=sign(), content=text_xml("我要人工", 5004))
    fake(wx).close_window(OPENID)
    wx.portal.call(channel.send, "wx-" + OPENID, "工作人员：您的材料齐了")  # type: ignore[union-attr]
    assert fake(wx).sent == []
    # The help desk sees in the transcript (a staff-only note) that it has not arrived.
    assert len(notes(wx)) == 1 and "48 小时" in notes(wx)[0] and "工作人员：您的材料齐了" in notes(wx)[0]
    r = wx.post("/wechat", params=sign(), content=text_xml("你好", 5005))
    assert "工作人员：您的材料齐了" in reply_content(r.text)
    assert "已随这次回复发给居民" in notes(wx)[-1]
    # Sent once: the next message does not repeat it.
    r = wx.post("/wechat", params=sign(), content=text_xml("谢谢", 5006))
    assert "工作人员：您的材料齐了" not in reply_content(r.text)


def test_kept_text_goes_out_with_a_slow_answer_too(wx: TestClient) -> None:
    """The resident writes again while the bot is slow: the kept text must not be dropped
    with the passive reply that is never made; it goes out with the customer-service message."""
    service = wx.app.state.wechat  # type: ignore[attr-defined]
    wx.post("/wechat", params=sign(), content=text_xml("你好", 5003))
    fake(wx).close_window(OPENID)
    wx.portal.call(service.channel.send, "wx-" + OPENID, "工作人员：窗口已为您预约")  # type: ignore[union-attr]
    assert fake(wx).sent == []
    fake(wx).user_wrote(OPENID)  # the resident's new message opens the window again
    content = ask_a_slow_bot(wx, "结婚登记要带什么", 5007)[0]["text"]["content"]
    assert content.startswith("工作人员：窗口已为您预约") and "结婚" in content


def test_kept_text_survives_a_slow_answer_that_fails(wx: TestClient) -> None:
    service = wx.app.state.wechat  # type: ignore[attr-defined]
    wx.post("/wechat", params=sign(), content=text_xml("你好", 5008))
    fake(wx).close_window(OPENID)
    wx.portal.call(service.channel.send, "wx-" + OPENID, "工作人员：请带户口本")  # type: ignore[union-attr]
    fake(wx).user_wrote(OPENID)
    service.config.passive_seconds = 0.05
    original = service.chat.turn

    async def failing_turn(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)
        raise RuntimeError("the bot failed")

    service.chat.turn = failing_turn
    assert wx.post("/wechat", params=sign(), content=text_xml("结婚登记要带什么", 5009)).text == "success"
    deadline = time.monotonic() + 10
    while not any("没能回答" in n for n in notes(wx)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("没能回答" in n for n in notes(wx)) and fake(wx).sent == []
    service.chat.turn = original
    r = wx.post("/wechat", params=sign(), content=text_xml("谢谢", 5010))
    assert reply_content(r.text).startswith("工作人员：请带户口本")


def test_scan_of_a_plate_code_welcomes_with_address_and_nearest_hall(wx: TestClient, kb: KnowledgeBase) -> None:
    plate = kb.library.plates["NA010001"]
    for event, key, created in [("subscribe", "qrscene_NA010001", 1700000001), ("SCAN", "NA010001", 1700000002)]:
        r = wx.post("/wechat", params=sign(), content=event_xml(event, key, created=created))
        content = reply_content(r.text)
        assert plate.address in content and "服务中心" in content and "离您最近的是" in content


def test_duplicate_event_by_openid_and_create_time_is_answered_once(wx: TestClient) -> None:
    xml = event_xml("SCAN", "NA010001", created=1700000100)
    first = wx.post("/wechat", params=sign(), content=xml).text
    second = wx.post("/wechat", params=sign(), content=xml).text
    assert first == second and wx.app.state.store.analytics.count("scan") == 1  # type: ignore[attr-defined]


def test_handoff_from_wechat_reaches_staff_and_replies_go_back(wx: TestClient) -> None:
    from web.db.tables import StaffRole
    from web.helpdesk.auth import hash_password

    store = wx.app.state.store  # type: ignore[attr-defined]
    store.staff.add("lin", "小林", StaffRole.AGENT, hash_password("password-1234"))
    r = wx.post("/wechat", params=sign(), content=text_xml("我要人工", 6006))
    assert "转接人工" in reply_content(r.text)
    wx.post("/staff/login", data={"username": "lin", "password": "password-1234"})
    import re

    csrf = re.search(r'name="csrf" value="([^"]+)"', wx.get("/staff").text).group(1)  # type: ignore[union-attr]
    conv = "wx-" + OPENID
    assert wx.post(f"/staff/c/{conv}/claim", data={"csrf": csrf}).status_code == 200
    wx.post(f"/staff/c/{conv}/reply", data={"csrf": csrf, "text": "您好，我是小林"})
    assert fake(wx).sent[-1] == {"touser": OPENID, "msgtype": "text", "text": {"content": "您好，我是小林"}}


def test_a_work_order_from_a_wechat_chat_sends_its_status_changes_back(wx: TestClient) -> None:
    from web.db.tables import StaffRole
    from web.helpdesk.auth import hash_password
    from web.render.sentences import SAY

    store = wx.app.state.store  # type: ignore[attr-defined]
    store.staff.add("hot", "小黄", StaffRole.HOTLINE, hash_password("password-1234"))
    wx.post("/wechat", params=sign(), content=text_xml("路灯坏了三天了", 7007))
    wx.post("/staff/login", data={"username": "hot", "password": "password-1234"})
    import re

    csrf = re.search(r'name="csrf" value="([^"]+)"', wx.get("/staff/workorders").text).group(1)  # type: ignore[union-attr]
    h = {"X-CSRF-Token": csrf}
    conv = "wx-" + OPENID
    order = wx.post(
        "/staff/api/workorders", json={"type": "求助", "content": "路灯坏了", "conversation": conv}, headers=h
    )
    code = order.json()["code"]
    wx.post(f"/staff/api/workorders/{code}/advance", json={"to": "派单", "department": "城管局"}, headers=h)
    wx.post(f"/staff/api/workorders/{code}/advance", json={"to": "办理"}, headers=h)
    wx.post(f"/staff/api/workorders/{code}/advance", json={"to": "回复", "reply": "明天修好"}, headers=h)
    sent = [m["text"]["content"] for m in fake(wx).sent if m["touser"] == OPENID]
    assert SAY["order_status"].format(code=code, status="派单", reply="") in sent
    assert sent[-1] == SAY["order_status"].format(code=code, status="回复", reply="答复：明天修好")
