"""Staff console through the app: login, lockout, CSRF, claim, reply, resolve, ratings, tickets."""

from __future__ import annotations

import re
from typing import Any

import pytest

from web.db.tables import StaffRole
from web.helpdesk.auth import hash_password

pytestmark = pytest.mark.integration
PASSWORD = "correct-horse-battery"


def add_staff(client: Any, username: str, role: StaffRole = StaffRole.AGENT) -> None:
    client.app.state.store.staff.add(username, f"{username}同志", role, hash_password(PASSWORD))


def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    return client.post("/staff/login", data={"username": username, "password": password}, follow_redirects=False)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def test_staff_pages_need_login(client: Any) -> None:
    r = client.get("/staff", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/login?next=/staff"
    assert client.get("/staff/c/x/messages", headers={"Accept": "application/json"}).json()["error"]["code"] == (
        "login_required"
    )


def test_login_sets_httponly_samesite_cookie(client: Any) -> None:
    add_staff(client, "lin")
    r = login(client, "lin")
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "menpai_staff=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_wrong_password_is_refused_and_locks_after_five(client: Any) -> None:
    add_staff(client, "wu")
    for _ in range(5):
        r = login(client, "wu", "wrong-password")
        assert r.status_code == 401 and "用户名或密码不对" in r.text
    r = login(client, "wu")  # the right password, but locked now
    assert r.status_code == 401 and "临时锁定" in r.text


def test_unknown_user_gets_the_same_message(client: Any) -> None:
    r = login(client, "nobody", "whatever-password")
    assert r.status_code == 401 and "用户名或密码不对" in r.text


def test_post_without_csrf_token_is_forbidden(client: Any) -> None:
    add_staff(client, "zhao")
    login(client, "zhao")
    client.post("/api/chat", json={"session": "csrf-test-1", "text": "我要人工"})
    r = client.post("/staff/c/csrf-test-1/claim", data={"csrf": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text


def test_handoff_claim_reply_resolve_rate(client: Any) -> None:
    add_staff(client, "lin")
    add_staff(client, "chief", StaffRole.SUPERVISOR)
    session = "handoff-flow-1"
    client.post("/api/chat", json={"session": session, "text": "换身份证要带什么", "plate": "NA010001"})
    reply = client.post("/api/chat", json={"session": session, "text": "我要人工"}).json()
    assert reply["mode"] == "waiting" and reply["messages"][1]["queue"]["position"] == 1

    login(client, "lin")
    queue = client.get("/staff")
    assert '排队等待人工 <span id="queue-count">1</span> 人' in queue.text
    assert client.app.state.kb.library.plates["NA010001"].address in queue.text
    csrf = csrf_of(queue.text)
    r = client.post(f"/staff/c/{session}/claim", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/staff/c/{session}").text
    assert "换身份证要带什么" in page and "机器人" in page and "换身份证（到期、坏了、信息变了）" in page

    # While with an agent, the resident's words go to staff, not to the bot.
    during = client.post("/api/chat", json={"session": session, "text": "你好，在吗"}).json()
    assert during == {"session": session, "mode": "agent", "messages": []}

    client.post(f"/staff/c/{session}/reply", data={"csrf": csrf, "text": "您好，我是小林，请讲。"})
    client.post(f"/staff/c/{session}/note", data={"csrf": csrf, "text": "老人，耳背"})
    client.post(f"/staff/c/{session}/checklist", data={"csrf": csrf, "item": "id-card-renew", "situation": "expired"})
    seen = client.get(f"/api/chat/{session}/messages").json()
    texts = [m["text"] for m in seen["messages"]]
    assert "您好，我是小林，请讲。" in texts
    assert any("【换身份证（到期、坏了、信息变了）】" in t for t in texts)
    assert not any("耳背" in t for t in texts), "internal notes never reach the resident"

    client.post(f"/staff/c/{session}/resolve", data={"csrf": csrf})
    after = client.get(f"/api/chat/{session}/messages").json()
    assert after["mode"] == "resolved" and after["messages"][-1]["kind"] == "rate"

    rated = client.post("/api/rate", json={"session": session, "target": "chat", "level": 1, "comment": "太慢"}).json()
    assert rated["label"] == "非常不满意" and rated["follow_up_ticket"] is not None

    login(client, "chief")
    board = client.get("/staff/supervisor").text
    assert "值班长看板" in board and "lin同志：1" in board and "差评回访" in board


def test_agents_cannot_open_the_supervisor_board(client: Any) -> None:
    add_staff(client, "lin")
    login(client, "lin")
    assert client.get("/staff/supervisor").status_code == 403


def test_leave_message_becomes_a_callback_ticket(client: Any) -> None:
    session = "leave-msg-1"
    client.post("/api/chat", json={"session": session, "text": "我要人工"})
    bad = client.post(f"/api/chat/{session}/leave-message", json={"phone": "123", "text": "回电"})
    assert bad.status_code == 422
    r = client.post(f"/api/chat/{session}/leave-message", json={"phone": "13912345678", "text": "请回电，社保卡的事"})
    assert r.status_code == 201 and r.json()["mode"] == "bot"
    ticket = client.app.state.store.tickets.by_status()[0]
    assert ticket.phone == "13912345678" and ticket.kind.value == "callback"


def test_agency_request_and_status(client: Any) -> None:
    r = client.post(
        "/api/agency",
        json={
            "item": "elderly-allowance",
            "name": "王阿嬷",
            "phone": "13912345678",
            "preferred_time": "周二上午",
            "plate": "NA010001",
        },
    )
    assert r.status_code == 201
    code = r.json()["code"]
    status = client.get(f"/api/agency/{code}").json()
    assert status["status"] == "submitted" and status["item"] == "elderly-allowance"
    add_staff(client, "lin")
    login(client, "lin")
    csrf = csrf_of(client.get("/staff").text)
    client.post(f"/staff/agency/{code}", data={"csrf": csrf, "status": "accepted", "note": "周二上午网格员上门"})
    assert client.get(f"/api/agency/{code}").json() == {
        "code": code,
        "item": "elderly-allowance",
        "status": "accepted",
        "note": "周二上午网格员上门",
        "updated_at": client.get(f"/api/agency/{code}").json()["updated_at"],
    }
    page = client.get(f"/bang/status?code={code}").text
    assert "已受理" in page


def test_admin_stats_needs_login_and_counts_events(client: Any) -> None:
    assert client.get("/admin/stats", follow_redirects=False).status_code == 303
    client.get("/p/NA010001")
    client.post("/api/chat", json={"session": "stats-0001", "text": "结婚登记要带什么", "plate": "NA010001"})
    client.post("/api/ask", json={"q": "阿巴阿巴 qwerty"})
    client.post("/api/events", json={"kind": "nav", "plate": "NA010001", "detail": "amap:town-01"})
    add_staff(client, "ops", StaffRole.SUPERVISOR)
    login(client, "ops")
    page = client.get("/admin/stats").text
    assert "使用统计" in page and '<svg class="chart"' in page
    assert "溪美街道" in page and "领结婚证" in page
    assert "阿巴阿巴 qwerty（1次）" in page


def test_long_poll_returns_a_staff_reply_sent_while_waiting(client: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    add_staff(client, "wu")
    session = "long-poll-1"
    client.post("/api/chat", json={"session": session, "text": "我要人工"})
    login(client, "wu")
    csrf = csrf_of(client.get("/staff").text)
    client.post(f"/staff/c/{session}/claim", data={"csrf": csrf})
    last = client.get(f"/api/chat/{session}/messages").json()["last_id"]

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(client.get, f"/api/chat/{session}/messages", params={"after": last, "wait": 20})
        client.post(f"/staff/c/{session}/reply", data={"csrf": csrf, "text": "在的，请讲"})
        got = held.result(timeout=30).json()
    assert got["mode"] == "agent"
    assert [m["text"] for m in got["messages"]] == ["在的，请讲"]
    assert got["last_id"] > last


def test_long_poll_returns_at_once_when_the_mode_differs_and_empty_after_wait(client: Any) -> None:
    session = "long-poll-2"
    client.post("/api/chat", json={"session": session, "text": "我要人工"})
    known = client.get(f"/api/chat/{session}/messages").json()
    assert known["mode"] == "waiting"
    changed = client.get(f"/api/chat/{session}/messages", params={"after": known["last_id"], "wait": 20, "mode": "bot"})
    assert changed.json() == {"mode": "waiting", "messages": [], "last_id": known["last_id"]}
    quiet = client.get(
        f"/api/chat/{session}/messages", params={"after": known["last_id"], "wait": 0.2, "mode": "waiting"}
    )
    assert quiet.json() == {"mode": "waiting", "messages": [], "last_id": known["last_id"]}
    too_long = client.get(f"/api/chat/{session}/messages", params={"wait": 3600})
    assert too_long.status_code == 422 and too_long.json()["error"]["code"]


def test_a_resident_waiting_for_a_person_can_take_it_back_and_ask_the_bot(client: Any) -> None:
    session = "withdraw-flow-1"
    reply = client.post("/api/chat", json={"session": session, "text": "我要人工"}).json()
    assert reply["mode"] == "waiting"
    # Still waiting: a plain message goes to the queue.
    assert client.post("/api/chat", json={"session": session, "text": "还要等多久"}).json()["mode"] == "waiting"
    # "算了，我自己问": nobody took the chat; the bot answers the question in the same message.
    back = client.post("/api/chat", json={"session": session, "text": "算了我自己问，换身份证要带什么"}).json()
    assert back["mode"] == "bot"
    assert any(m.get("item") == "id-card-renew" for m in back["messages"]), back
    # Once staff hold the chat, the words go to them, whatever they say.
    add_staff(client, "wu")
    client.post("/api/chat", json={"session": session, "text": "我要人工"})
    login(client, "wu")
    csrf = csrf_of(client.get("/staff").text)
    client.post(f"/staff/c/{session}/claim", data={"csrf": csrf})
    during = client.post("/api/chat", json={"session": session, "text": "算了我自己问"}).json()
    assert during["mode"] == "agent" and during["messages"] == []
