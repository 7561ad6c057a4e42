"""WeChat voice and image messages, signed and shaped exactly as WeChat sends them, against the local fake API."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from tests.web.test_staff import add_staff, login
from tests.web.test_wechat import OPENID, fake, reply_content, sign, text_xml, wechat_client
from web.db.tables import Role
from web.render.sentences import SAY

pytestmark = pytest.mark.integration


@pytest.fixture()
def wx(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> Iterator[TestClient]:
    """/wechat in plaintext mode on the local fake API (as in test_wechat)."""
    with wechat_client(settings, kb, tmp_path) as client:
        yield client


def voice_xml(msg_id: int, recognition: str | None, openid: str = OPENID) -> str:
    """A voice message; <Recognition> only when the account has WeChat's speech recognition on."""
    rec = f"<Recognition><![CDATA[{recognition}]]></Recognition>" if recognition is not None else ""
    return (
        f"<xml><ToUserName><![CDATA[gh_menpai]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
        f"<MediaId><![CDATA[voice-media-{msg_id}]]></MediaId><Format><![CDATA[amr]]></Format>{rec}"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def image_xml(msg_id: int, media_id: str, openid: str = OPENID) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_menpai]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/{media_id[:8]}]]></PicUrl>"
        f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{msg_id}</MsgId></xml>"
    )


def photo_with_gps() -> bytes:
    """A JPEG as a phone writes it: EXIF with the camera's make and a GPS position."""
    img = Image.new("RGB", (640, 480), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (24.0, 57.0, 30.0), 3: "E", 4: (118.0, 23.0, 10.0)}  # GPSInfo
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def conv_messages(wx: TestClient, openid: str = OPENID) -> list[Any]:
    return wx.app.state.store.conversations.messages("wx-" + openid)  # type: ignore[attr-defined]


def test_voice_with_recognition_is_answered_exactly_like_the_same_text(wx: TestClient) -> None:
    other = "oResident0000000000000002"
    fake(wx).user_wrote(other)
    typed = wx.post("/wechat", params=sign(), content=text_xml("换身份证要带什么", 5001, openid=other))
    spoken = wx.post("/wechat", params=sign(), content=voice_xml(5002, "换身份证要带什么。"))
    assert typed.status_code == spoken.status_code == 200
    assert reply_content(spoken.text) == reply_content(typed.text)
    assert "/g/id-card-renew" in reply_content(spoken.text)
    # Stored as the words the resident said, so staff read them in the transcript.
    assert [m.text for m in conv_messages(wx) if m.role is Role.RESIDENT] == ["换身份证要带什么"]


def test_voice_without_recognition_gets_a_short_reply_and_staff_see_it_came(wx: TestClient) -> None:
    r = wx.post("/wechat", params=sign(), content=voice_xml(5003, None))
    assert r.status_code == 200
    text = reply_content(r.text)
    assert text == SAY["wechat_voice"] and "打字" in text and "人工" in text and len(text) <= 60
    lines = [(m.role, m.kind, m.text) for m in conv_messages(wx)]
    assert (Role.RESIDENT, "voice", SAY["wechat_voice_note"]) in lines
    # An empty <Recognition/> (recognition on, nothing understood) is the same as none.
    r = wx.post("/wechat", params=sign(), content=voice_xml(5004, ""))
    assert reply_content(r.text) == SAY["wechat_voice"]


def test_image_outside_a_handoff_is_acknowledged_and_not_fetched_or_kept(wx: TestClient) -> None:
    media = fake(wx).add_media(photo_with_gps())
    r = wx.post("/wechat", params=sign(), content=image_xml(5101, media))
    assert reply_content(r.text) == SAY["wechat_image"]
    assert fake(wx).media_calls == 0
    assert not [m for m in conv_messages(wx) if m.kind == "image"]


def test_image_while_waiting_for_a_person_reaches_the_staff_transcript_without_exif(
    wx: TestClient,
) -> None:
    r = wx.post("/wechat", params=sign(), content=text_xml("人工", 5201))
    assert r.status_code == 200
    store = wx.app.state.store  # type: ignore[attr-defined]
    assert store.conversations.find("wx-" + OPENID).mode.value == "waiting"
    media = fake(wx).add_media(photo_with_gps())
    r = wx.post("/wechat", params=sign(), content=image_xml(5202, media))
    assert reply_content(r.text) == SAY["wechat_image_to_staff"].format(days=7)
    assert fake(wx).media_calls == 1  # fetched through GET /cgi-bin/media/get
    image = [m for m in conv_messages(wx) if m.kind == "image"]
    assert len(image) == 1 and image[0].role is Role.RESIDENT
    token = image[0].payload["upload"]
    row, data = store.uploads.get(token)
    assert row.conversation_id == "wx-" + OPENID and row.expires_at > row.created_at
    kept = Image.open(io.BytesIO(data))
    assert kept.format == "JPEG" and not kept.getexif() and "exif" not in kept.info
    # Staff see it in the transcript (page and live JSON) and open it behind their login.
    add_staff(wx, "lin")
    login(wx, "lin")
    page = wx.get("/staff/c/wx-" + OPENID)
    assert f'src="/staff/uploads/{token}"' in page.text
    live = wx.get("/staff/c/wx-" + OPENID + "/messages", headers={"Accept": "application/json"}).json()
    assert any(m.get("image") == token for m in live["messages"])
    photo = wx.get(f"/staff/uploads/{token}")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg" and photo.content == data


def test_image_with_an_unknown_media_id_is_not_lost_silently(wx: TestClient) -> None:
    wx.post("/wechat", params=sign(), content=text_xml("人工", 5301))
    r = wx.post("/wechat", params=sign(), content=image_xml(5302, "no-such-media"))
    assert reply_content(r.text) == SAY["wechat_image_failed"]
    notes = [m.text for m in conv_messages(wx) if m.role is Role.NOTE]
    assert any("40007" in n for n in notes)


def test_staff_photo_route_needs_login(wx: TestClient) -> None:
    r = wx.get("/staff/uploads/whatever", follow_redirects=False)
    assert r.status_code == 303 and "/staff/login" in r.headers["location"]


def test_fake_media_get_is_faithful(wx: TestClient) -> None:
    app = wx.app.state.wechat_fake  # type: ignore[attr-defined]
    with TestClient(app) as api:
        token = api.get(
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": fake(wx).appid, "secret": fake(wx).secret},
        ).json()["access_token"]
        media = fake(wx).add_media(b"\xff\xd8fake-jpeg")
        ok = api.get("/cgi-bin/media/get", params={"access_token": token, "media_id": media})
        assert (
            ok.status_code == 200 and ok.headers["content-type"] == "image/jpeg" and ok.content == b"\xff\xd8fake-jpeg"
        )
        assert "attachment" in ok.headers["content-disposition"]
        bad = api.get("/cgi-bin/media/get", params={"access_token": token, "media_id": "nope"}).json()
        assert bad["errcode"] == 40007
        assert api.get("/cgi-bin/media/get", params={"access_token": "x", "media_id": media}).json()["errcode"] == 40001
