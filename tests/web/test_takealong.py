"""Take the checklist along (print view, 发到手机), read-aloud buttons, 上门办, video help in the queue offer."""

from __future__ import annotations

import re
from typing import Any

import pytest

from knowledge.hours import FixedClock
from tests.web.test_staff import add_staff, login
from web.chat.policy import HandoffPolicy

pytestmark = pytest.mark.integration


def test_print_view_has_tick_boxes_fee_nearest_hall_with_hours_and_a_qr(client: Any) -> None:
    kb = client.app.state.kb
    answer = kb.answer("id-card-renew", None)
    r = client.get("/g/id-card-renew/print", params={"plate": "NA010001"})
    assert r.status_code == 200
    html = r.text
    assert html.count('<span class="tick" aria-hidden="true">☐</span>') == len(answer.checklist)
    for c in answer.checklist:
        assert c.name in html
    assert answer.fee in html and "办公时间：" in html and "<svg" in html and "扫码看完整攻略" in html
    assert "/g/id-card-renew" in html
    client.app.state.store.analytics.flush()
    assert client.app.state.store.analytics.count("print") == 1  # the existing `print` event


def test_share_text_is_short_and_counted(client: Any) -> None:
    r = client.get("/g/id-card-renew/share", params={"plate": "NA010001"})
    assert r.status_code == 200
    text = re.search(r'<textarea id="share-text"[^>]*>(.*?)</textarea>', r.text, re.S)
    assert text
    body = text[1]
    assert body.startswith("【") and "要带：" in body and "费用：" in body and "去：" in body and "详情：" in body
    assert len(body) < 400
    client.app.state.store.analytics.flush()
    assert client.app.state.store.analytics.count("share") == 1


def test_answer_card_and_guide_page_offer_read_aloud_print_share_booking(client: Any) -> None:
    page = client.get("/g/id-card-renew").text
    assert 'data-speak="#main" hidden' in page  # hidden until the browser shows it has a Chinese voice
    assert "/g/id-card-renew/print" in page and "/g/id-card-renew/share" in page and "/yuyue?item=id-card-renew" in page
    reply = client.post("/api/chat", json={"text": "换身份证要带什么", "plate": "NA010001"}).json()
    card = next(m for m in reply["messages"] if m["kind"] == "answer")
    assert "data-speak hidden" in card["html"] and "/print" in card["html"] and "/share" in card["html"]
    assert "/yuyue?item=" in card["html"] and "kind=precheck" in card["html"]


def test_read_aloud_button_is_there_in_large_text_mode(client: Any) -> None:
    client.cookies.set("menpai_text", "large")
    page = client.get("/g/id-card-renew").text
    assert 'class="big-text"' in page and "data-speak" in page


def test_home_visit_needs_a_plate_and_staff_see_the_community(client: Any) -> None:
    form = {"item": "elderly-card", "name": "李阿公", "phone": "13912345678", "preferred_time": "上午", "kind": "home"}
    r = client.post("/bang", data=form)
    assert r.status_code == 400 and "门牌" in r.text
    r = client.post("/bang", data={**form, "plate": "NA010001", "address": "别处"})
    assert r.status_code == 200 and "已提交" in r.text
    add_staff(client, "lin")
    login(client, "lin")
    desk = client.get("/staff").text
    assert "上门办" in desk and "溪美街道 溪一社区" in desk and "南安市溪美街道成功街259号" in desk
    assert "别处" not in desk  # 上门办 goes to the plate's address


def test_video_help_is_offered_with_the_queue_only_during_staff_hours() -> None:
    import datetime as dt

    from knowledge.hours import CHINA_TZ

    monday_10 = dt.datetime(2026, 11, 30, 10, 0, tzinfo=CHINA_TZ)
    sunday = dt.datetime(2026, 11, 29, 10, 0, tzinfo=CHINA_TZ)
    policy = HandoffPolicy("08:00-18:00", FixedClock(monday_10), video_help_url="https://video.example/room")
    assert "https://video.example/room" in policy.queue_message(1, monday_10).text
    assert "https://video.example/room" not in policy.queue_message(1, sunday).text
    assert "视频" not in HandoffPolicy("08:00-18:00", FixedClock(monday_10)).queue_message(1, monday_10).text
