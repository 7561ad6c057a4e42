"""Pages and JSON API through the real app (TestClient), Rasa unreachable."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from knowledge.service import KnowledgeBase

pytestmark = pytest.mark.integration

PLATE = "NA010001"


def test_plate_page_shows_address_trust_cues_halls_and_chat(client: Any, kb: KnowledgeBase) -> None:
    r = client.get(f"/p/{PLATE}")
    assert r.status_code == 200
    html = r.text
    plate = kb.library.plates[PLATE]
    assert plate.address in html
    assert "南安市数据管理局（示例）" in html and "menpai.nanan.gov.cn" in html and PLATE in html
    assert "示例数据" in html
    assert html.count("uri.amap.com/navigation") >= 3
    assert "api.map.baidu.com/direction" in html and "coord_type=bd09ll" in html
    assert "apis.map.qq.com/uri/v1/routeplan" in html
    assert 'href="tel:0595-' in html
    assert re.search(r"(正在办公|快下班了|已下班)", html)
    assert 'action="/p/NA010001/chat#chat"' in html and "找人工帮办" in html
    assert "网上办、掌上办" in html and "全市通办" in html


def test_plate_page_records_a_scan(client: Any) -> None:
    store = client.app.state.store
    before = store.analytics.count("scan")
    client.get(f"/p/{PLATE}")
    assert store.analytics.count("scan") == before + 1


def test_plate_page_for_a_new_visitor_is_shared_gzipped_and_holds_no_session(client: Any) -> None:
    import gzip

    first = client.get(f"/p/{PLATE}", headers={"Accept-Encoding": "gzip"})
    client.cookies.clear()
    second = client.get(f"/p/{PLATE}", headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip" and first.headers["vary"] == "Accept-Encoding"
    assert first.text == second.text and 'data-session=""' in first.text
    assert first.cookies["menpai_session"] != second.cookies["menpai_session"], "each visitor gets their own session"
    plain = client.get(f"/p/{PLATE}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == first.text
    assert len(gzip.compress(plain.content)) < len(plain.content) // 2


def test_plate_page_from_the_cache_keeps_headers_cookie_scan_and_answers_304(client: Any) -> None:
    """The second visit of the minute is served by PlateFastPath before routing: the same bytes,
    the same security headers, a cookie of its own, the scan counted, and 304 for its ETag."""
    store = client.app.state.store
    before = store.analytics.count("scan")
    first = client.get(f"/p/{PLATE}")  # rendered by the route, then cached
    client.cookies.clear()
    second = client.get(f"/p/{PLATE}")  # from the cache
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    for name in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"):
        assert second.headers[name] == first.headers[name]
    assert second.cookies["menpai_session"] != first.cookies["menpai_session"]
    assert second.headers["cache-control"] == "no-cache"
    client.cookies.clear()
    again = client.get(f"/p/{PLATE}", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    assert store.analytics.count("scan") == before + 3


def test_plate_page_fast_path_leaves_other_requests_to_the_routes(client: Any) -> None:
    client.get(f"/p/{PLATE}")
    client.cookies.clear()
    assert client.get("/p/na010001", follow_redirects=False).status_code == 301  # still canonicalised
    assert client.get("/p/ZZ999999").status_code == 404
    assert client.post(f"/p/{PLATE}/chat", data={"text": "你好"}, follow_redirects=False).status_code == 303


def test_every_response_names_the_web_copy_when_configured(settings: Any, kb: KnowledgeBase, tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from web.app import create_app

    named = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'w.db'}", "instance_name": "web-2"})
    with TestClient(create_app(named, kb=kb)) as c:
        c.get(f"/p/{PLATE}")
        c.cookies.clear()
        assert c.get(f"/p/{PLATE}").headers["x-served-by"] == "web-2"  # the cached page too
        assert c.get("/healthz").headers["x-served-by"] == "web-2"
        assert c.get("/api/nothing-here").headers["x-served-by"] == "web-2"


def test_plate_page_of_a_visitor_with_a_conversation_shows_it(client: Any) -> None:
    client.get(f"/p/{PLATE}")
    cookie = client.cookies["menpai_session"]
    reply = client.post("/api/chat", json={"text": "办结婚登记要带哪些材料", "plate": PLATE}).json()
    # The widget's chat belongs to the page's cookie, which is a credential, not the chat's id.
    assert client.cookies["menpai_session"] == cookie and reply["session"] != cookie
    html = client.get(f"/p/{PLATE}").text
    assert f'data-session="{reply["session"]}"' in html and "办结婚登记要带哪些材料" in html
    client.cookies.clear()
    assert "办结婚登记要带哪些材料" not in client.get(f"/p/{PLATE}").text


def test_chat_without_session_or_cookie_starts_one_and_sets_the_cookie(client: Any) -> None:
    client.cookies.clear()
    r = client.post("/api/chat", json={"text": "你好"})
    assert r.status_code == 200 and r.cookies["menpai_session"] and r.json()["session"]
    again = client.post("/api/chat", json={"text": "结婚登记要带什么"})
    assert again.json()["session"] == r.json()["session"], "the cookie finds the chat again"


def test_api_client_without_cookies_keeps_its_chat_by_the_id_it_chose(client: Any) -> None:
    """The public checker's way: the session in the body, no cookies (a browser's chat is owned by its cookie)."""
    client.cookies.clear()
    first = client.post("/api/chat", json={"session": "eval-0123456789ab", "text": "换身份证要带什么"})
    client.cookies.clear()
    again = client.post("/api/chat", json={"session": "eval-0123456789ab", "text": "我要人工"})
    assert first.json()["session"] == again.json()["session"] == "eval-0123456789ab"
    assert again.json()["mode"] == "waiting"


def test_unknown_plate_is_a_friendly_404_with_search(client: Any) -> None:
    r = client.get("/p/ZZ999999")
    assert r.status_code == 404
    assert "没有找到这块门牌" in r.text and 'action="/search"' in r.text and "12345" in r.text


def test_lowercase_plate_redirects_to_canonical(client: Any) -> None:
    r = client.get("/p/na010001", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/p/NA010001"


def test_verify_page_tells_real_from_fake(client: Any) -> None:
    assert "是南安市数据管理局（示例）发放的门牌" in client.get(f"/verify?code={PLATE}").text
    assert "不是官方门牌" in client.get("/verify?code=XX000000").text


def test_guide_page_has_picker_checklist_steps_and_source(client: Any, kb: KnowledgeBase) -> None:
    g = kb.library.guides["id-card-renew"]
    r = client.get("/g/id-card-renew?s=damaged")
    assert r.status_code == 200
    html = r.text
    for s in g.situations:
        assert f"?s={s.id}" in html
    assert 'aria-current="true"' in html and "损坏的身份证" in html
    assert 'class="flow2"' in html and g.steps[0].text in html
    assert g.source.name in html and "示例数据" in html
    # A draft guide says so, and never calls its compile date a check date.
    assert "示例内容，尚未经窗口核实" in html and "编写于 2026年" in html
    assert "核对" not in html.replace("核对信息", "").replace("核对身份", "")
    assert "打印这张单子" in html


def test_guide_page_of_a_verified_guide_names_who_and_when(client: Any, kb: KnowledgeBase) -> None:
    from knowledge.schema import Review, ReviewStatus

    g = kb.library.guides["id-card-renew"]
    verified = g.model_copy(
        update={
            "review": Review(
                status=ReviewStatus.VERIFIED,
                compiled_on=g.review.compiled_on,
                verified_by="陈晓梅",
                verified_on=dt.date(2026, 11, 20),
                next_review=dt.date(2026, 11, 25),
            )
        }
    )
    kb.library.guides["id-card-renew"] = verified
    try:
        html = client.get("/g/id-card-renew").text
    finally:
        kb.library.guides["id-card-renew"] = g
    assert "由陈晓梅于2026年11月20日核实" in html and "已到复核时间" in html
    assert "尚未经窗口核实" not in html


def test_guide_page_unknown_code_is_404_html(client: Any) -> None:
    r = client.get("/g/no-such-item")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


def test_static_files_have_hashed_urls_and_long_cache(client: Any) -> None:
    html = client.get("/").text
    url = re.search(r'href="(/static/app\.css\?v=[0-9a-f]{10})"', html)
    assert url
    r = client.get(url.group(1))
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_what_startup_loaded_is_kept_out_of_full_collections(client: Any) -> None:
    import gc

    assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() > 10_000  # the index, torch, faiss: never walked by a gen2 collection


def test_healthz_reports_rasa_down_and_the_index(client: Any) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["rasa"] == "down"
    assert body["index"]["entries"] > 1000 and body["index"]["dense"] is True


def test_api_ask_returns_candidates_and_answer(client: Any) -> None:
    body = client.post("/api/ask", json={"q": "换身份证要带什么", "plate": PLATE}).json()
    assert body["abstain"] is False
    assert body["candidates"][0]["item"] == "id-card-renew"
    assert {"item", "score", "situation"} <= set(body["candidates"][0])
    assert body["answer"]["item"] == "id-card-renew" and body["answer"]["halls"]


def test_api_ask_abstains_with_null_answer(client: Any) -> None:
    body = client.post("/api/ask", json={"q": "阿巴阿巴 qwerty"}).json()
    assert body["abstain"] is True and body["answer"] is None


def test_api_error_shape_is_pinned(client: Any) -> None:
    r = client.post("/api/ask", json={})
    assert r.status_code == 422
    assert r.json() == {"error": {"code": "invalid_request", "message": "q: Field required", "status": 422}}
    r = client.get("/api/nothing-here")
    assert r.json() == {"error": {"code": "not_found", "message": "Not Found", "status": 404}}


def test_api_chat_one_megabyte_message_is_refused_and_nothing_stored(client: Any) -> None:
    store = client.app.state.store
    r = client.post("/api/chat", json={"session": "bigbigbig01", "text": "啊" * 1_000_000})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"
    assert store.conversations.messages("bigbigbig01") == []


def test_api_chat_unknown_plate_is_a_clear_400(client: Any) -> None:
    r = client.post("/api/chat", json={"session": "plate-test-1", "text": "你好", "plate": "ZZ999999"})
    assert r.status_code == 400
    assert r.json()["error"] == {"code": "bad_request", "message": "unknown door plate 'ZZ999999'", "status": 400}


def test_api_chat_without_rasa_answers_from_retrieval_and_offers_a_person(client: Any) -> None:
    body = client.post("/api/chat", json={"session": "fallback-1", "text": "换身份证要带什么", "plate": PLATE}).json()
    assert body["mode"] == "bot"
    msg = body["messages"][0]
    assert msg["kind"] == "answer" and msg["item"] == "id-card-renew"
    assert "智能助手暂时忙" in msg["text"] and msg["offer_human"] is True


def test_api_chat_without_rasa_still_hands_over_on_request(client: Any) -> None:
    body = client.post("/api/chat", json={"session": "fallback-2", "text": "我要人工"}).json()
    assert body["mode"] == "waiting" and body["messages"][0]["kind"] == "handoff"
    again = client.post("/api/chat", json={"session": "fallback-2", "text": "还在吗"}).json()
    assert again["mode"] == "waiting" and again["messages"][0]["queue"] == {"position": 1, "expected_minutes": 3}


def test_chat_masks_id_numbers_in_storage(client: Any) -> None:
    client.post("/api/chat", json={"session": "mask-test-1", "text": "我的身份证号350583199001011234 电话13912345678"})
    stored = client.app.state.store.conversations.messages("mask-test-1")[0].text
    assert "350583199001011234" not in stored and "13912345678" not in stored
    assert stored.startswith("我的身份证号350583********") and "139****5678" in stored


def test_plain_form_chat_works_without_javascript(client: Any) -> None:
    r = client.post(f"/p/{PLATE}/chat", data={"text": "结婚登记要带什么"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/p/{PLATE}")
    assert 'class="answer-card" data-item="marriage-registration"' in page.text


def test_openapi_is_served(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/chat", "/healthz"} <= set(paths)


def test_outside_staff_hours_residents_are_asked_to_leave_a_message(client: Any) -> None:
    import datetime as dt

    from knowledge.hours import FixedClock
    from web.chat.policy import HandoffPolicy

    chat = client.app.state.chat
    saturday = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)  # 11:00 in 南安, a Saturday
    monday_night = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)  # 21:00
    monday_morning = dt.datetime(2026, 11, 23, 1, 30, tzinfo=dt.UTC)  # 09:30
    kept = chat.policy
    chat.policy = HandoffPolicy("08:00-18:00", clock=FixedClock(saturday))
    try:
        assert not chat.policy.on_duty(saturday) and not chat.policy.on_duty(monday_night)
        assert chat.policy.on_duty(monday_morning)
        # The button asks for a person explicitly; on a Saturday the resident is told at once.
        body = client.post("/api/chat", json={"session": "after-hours-2", "human": True}).json()
        assert body["mode"] == "waiting" and body["messages"][0]["kind"] == "handoff"
        assert body["messages"][1]["offer_message"] is True and "下班时间" in body["messages"][1]["text"]
        chat.policy = HandoffPolicy("08:00-18:00", clock=FixedClock(monday_morning))
        body = client.post("/api/chat", json={"session": "after-hours-3", "human": True}).json()
        assert "queue" in body["messages"][1] and "下班时间" not in body["messages"][1]["text"]
    finally:
        chat.policy = kept


def test_larger_text_toggle_sticks_without_javascript(client: Any) -> None:
    r = client.get("/text-size?size=large&next=/p/NA010001", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/p/NA010001"
    assert 'class="big-text"' in client.get("/p/NA010001").text
    client.get("/text-size?size=normal&next=/")
    assert 'class="big-text"' not in client.get("/").text
    assert client.get("/text-size?size=large&next=//evil.example", follow_redirects=False).headers["location"] == "/"


def test_sql_injection_strings_are_stored_and_shown_as_text(client: Any) -> None:
    evil = "'; DROP TABLE messages; -- <b>x</b>"
    client.post("/api/chat", json={"session": "sqli-test-1", "text": evil})
    assert client.app.state.store.conversations.messages("sqli-test-1")[0].text == evil
    page = client.get("/search", params={"q": evil}).text
    assert "&#39;; DROP TABLE messages; -- &lt;b&gt;x&lt;/b&gt;" in page
    assert client.get("/verify", params={"code": "' OR 1=1 --"}).status_code == 200
    assert client.post("/api/ask", json={"q": evil}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/p/NA010001",
        "/g/id-card-renew",
        "/search?q=社保卡",
        "/verify",
        "/bang?plate=NA010001",
        "/bang/status?code=ZZZZZZ",
        "/staff/login",
        "/healthz",
        "/openapi.json",
    ],
)
def test_every_public_page_answers(client: Any, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, path


def test_known_out_of_scope_question_is_declined_with_where_to_go(client: Any) -> None:
    body = client.post("/api/chat", json={"session": "oos-refer-1", "text": "我想注册个商标去哪办"}).json()
    msg = body["messages"][0]
    assert msg["kind"] == "text" and "商标注册" in msg["text"] and "国家知识产权局" in msg["text"]
    ask = client.post("/api/ask", json={"q": "我想注册个商标去哪办"}).json()
    assert ask["abstain"] is True and ask["declined_topic"] == "trademark" and ask["answer"] is None


def test_referral_question_gets_an_honest_referral_not_a_guide(client: Any, kb: KnowledgeBase) -> None:
    q = "在饭店打工要办健康证，去哪里办"  # a county service with no guide yet (卫健: 健康证)
    ref = kb.library.referrals["health-certificate"]
    ask = client.post("/api/ask", json={"q": q}).json()
    assert ask["abstain"] is True and ask["answer"] is None and ask["declined_topic"] == "ref:health-certificate"
    body = client.post("/api/chat", json={"session": "referral-1", "text": q}).json()
    msg = body["messages"][0]
    assert msg["kind"] == "text" and msg.get("refer_kind") == "referral"
    assert f"“{ref.name}”这件事还没有详细攻略" in msg["text"] and ref.dept in msg["text"] and ref.phone in msg["text"]
    assert "帮不上忙" not in msg["text"]


def test_personal_data_lookup_gets_the_online_channel(client: Any, kb: KnowledgeBase) -> None:
    body = client.post("/api/chat", json={"session": "lookup-1", "text": "我想查查我社保交了多少年"}).json()
    msg = body["messages"][0]
    look = kb.library.lookups["social-insurance-record"]
    assert msg["kind"] == "text" and msg.get("refer_kind") == "lookup", msg
    assert "助手看不到您的个人信息" in msg["text"] and look.channels[0].name in msg["text"]


def test_guide_pages_and_static_files_are_gzipped_for_phones(client: Any) -> None:
    page = client.get("/g/id-card-renew", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip" and "换身份证" in page.text
    css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', page.text)
    assert css
    static = client.get(css.group(1), headers={"Accept-Encoding": "gzip"})
    assert static.headers["content-encoding"] == "gzip" and "immutable" in static.headers["cache-control"]
