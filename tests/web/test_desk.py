"""The help desk a county runs on: presence and routing, the first-response clock, canned replies,
search with roles and audit, 好差评 rectification, the 12345 clocks, the readable console."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from knowledge.errors import BadRequest, ContentError
from knowledge.hours import FixedClock, WorkingDays, china_today
from knowledge.schema import Holiday
from tests.web.test_staff import add_staff, csrf_of, login
from web.chat.handoff import HandoffEvent, Mode
from web.chat.routing import Router
from web.db.store import Store
from web.db.tables import OrderType, Presence, Rating, Role, StaffRole, TaskState
from web.helpdesk.canned import MISSING
from web.helpdesk.rectification import IllegalTaskStep, Rectification, SupervisorOnly
from web.helpdesk.roles import PERMISSIONS, Action
from web.helpdesk.taxonomy import Taxonomy, load_taxonomy
from web.helpdesk.workorders import WorkOrders
from web.render.sentences import SAY

CHAT_ROLES = PERMISSIONS[Action.CHATS]
ROOT = Path(__file__).resolve().parents[2]


def waiting(store: Store, conv_id: str) -> None:
    store.conversations.get_or_create(conv_id, "web", "NA010001")
    store.conversations.apply(conv_id, HandoffEvent.REQUEST, reason="asked")


def agent(store: Store, username: str, state: Presence | None = Presence.ONLINE, limit: int | None = None) -> int:
    staff = store.staff.add(username, username, StaffRole.AGENT, "x")
    if state is not None:
        store.presence.set(staff.id, state, limit, set_limit=limit is not None)
    return staff.id


# ---- presence and routing


@pytest.mark.integration
def test_routing_offers_in_turn_to_online_agents_only(store: Store) -> None:
    a, b = agent(store, "a"), agent(store, "b")
    away = agent(store, "away", Presence.AWAY)
    busy = agent(store, "busy", Presence.BUSY)
    never = agent(store, "never-set", None)
    router = Router(store, CHAT_ROLES, default_limit=5)
    offered = []
    for n in range(4):
        waiting(store, f"rr-{n}")
        offered.append(router.offer(f"rr-{n}"))
    assert offered == [a, b, a, b]  # round-robin: the one offered longest ago goes next
    assert {away, busy, never}.isdisjoint(store.presence.offers().values())
    assert store.presence.offers(a) == {"rr-0": a, "rr-2": a}


@pytest.mark.integration
def test_routing_keeps_each_agent_under_their_limit(store: Store) -> None:
    a = agent(store, "a", limit=1)
    b = agent(store, "b", limit=2)
    router = Router(store, CHAT_ROLES, default_limit=5)
    waiting(store, "held")
    store.conversations.apply("held", HandoffEvent.CLAIM, staff_id=b)  # b already serves one chat
    got = []
    for n in range(3):
        waiting(store, f"lim-{n}")
        got.append(router.offer(f"lim-{n}"))
    assert got == [a, b, None]  # a: 1 offer = limit; b: 1 chat + 1 offer = limit; then nobody has room
    assert store.presence.unoffered_waiting() == ["lim-2"]
    store.conversations.apply("lim-0", HandoffEvent.CLAIM, staff_id=a)  # the claim ends a's offer…
    assert "lim-0" not in store.presence.offers()
    store.conversations.apply("lim-0", HandoffEvent.RESOLVE)  # …and resolving frees a's room
    assert router.rebalance() == 1 and store.presence.offers()["lim-2"] == a


@pytest.mark.integration
def test_going_away_takes_back_offers_and_a_stale_offer_passes_on(store: Store) -> None:
    a, b = agent(store, "a"), agent(store, "b")
    router = Router(store, CHAT_ROLES, offer_seconds=60)
    waiting(store, "s-1")
    assert router.offer("s-1") == a
    store.presence.set(a, Presence.AWAY)
    assert store.presence.offers() == {}
    assert router.rebalance() == 1 and store.presence.offers() == {"s-1": b}
    store.presence.set(a, Presence.ONLINE)
    assert router.rebalance(dt.datetime.now(dt.UTC)) == 0  # fresh: b keeps it
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
    assert router.rebalance(later) == 1 and store.presence.offers() == {"s-1": a}  # not taken in time: next agent


@pytest.mark.integration
def test_nobody_online_the_resident_is_told_at_once_and_may_leave_a_message(client: Any) -> None:
    add_staff(client, "lin")  # an account, but not online
    r = client.post("/api/chat", json={"session": "nobody-0001", "text": "我要人工"}).json()
    assert r["mode"] == "waiting"
    told = r["messages"][-1]
    assert told["text"] == SAY["nobody_online"] and told["offer_message"] is True
    assert told["queue"]["position"] == 1  # still in the queue
    left = client.post("/api/chat/nobody-0001/leave-message", json={"phone": "13912345678", "text": "请回电"})
    assert left.status_code == 201


@pytest.mark.integration
def test_an_online_agent_is_offered_the_handoff_and_sees_it_marked(client: Any) -> None:
    add_staff(client, "lin")
    add_staff(client, "wu")
    login(client, "lin")
    csrf = csrf_of(client.get("/staff").text)
    assert client.post("/staff/presence", data={"csrf": csrf, "state": "online"}).status_code == 200
    r = client.post("/api/chat", json={"session": "offer-0001", "text": "我要人工"}).json()
    assert SAY["nobody_online"] not in [m["text"] for m in r["messages"]]
    store = client.app.state.store
    lin = store.staff.by_username("lin")
    assert store.presence.offers() == {"offer-0001": lin.id}
    page = client.get("/staff").text
    assert 'class="offered"' in page and "派给您" in page
    login(client, "wu")  # away: sees the queue, is offered nothing
    assert "派给您" not in client.get("/staff").text


@pytest.mark.integration
def test_logging_out_goes_away_and_gives_back_offers(client: Any) -> None:
    add_staff(client, "lin")
    login(client, "lin")
    csrf = csrf_of(client.get("/staff").text)
    client.post("/staff/presence", data={"csrf": csrf, "state": "online"})
    client.post("/api/chat", json={"session": "logout-0001", "text": "我要人工"})
    store = client.app.state.store
    assert store.presence.offers() == {"logout-0001": store.staff.by_username("lin").id}
    client.post("/staff/logout", data={"csrf": csrf})
    assert store.presence.of(store.staff.by_username("lin").id).state is Presence.AWAY
    assert store.presence.offers() == {}


@pytest.mark.integration
def test_presence_form_refuses_an_unknown_state_and_needs_csrf(client: Any) -> None:
    add_staff(client, "lin")
    login(client, "lin")
    csrf = csrf_of(client.get("/staff").text)
    assert client.post("/staff/presence", data={"csrf": csrf, "state": "sleeping"}).status_code == 422
    assert client.post("/staff/presence", data={"csrf": "forged", "state": "online"}).status_code == 403
    assert client.app.state.store.presence.of(client.app.state.store.staff.by_username("lin").id) is None


# ---- the first-response clock


@pytest.mark.integration
def test_claim_records_the_first_response_and_supervisors_see_breaches(client: Any) -> None:
    add_staff(client, "lin")
    add_staff(client, "chief", StaffRole.SUPERVISOR)
    store = client.app.state.store
    for n in range(2):
        client.post("/api/chat", json={"session": f"first-resp-{n}", "text": "我要人工"})
    # fr-0 has waited two minutes (over the 60 s target), fr-1 just arrived.
    with store.tx() as s:
        from web.db.tables import Conversation

        s.get(Conversation, "first-resp-0").waiting_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=120)
    login(client, "lin")
    queue = client.get("/staff").text
    assert "首次响应目标 60 秒" in queue and 'class="wait over"' in queue
    csrf = csrf_of(queue)
    for n in range(2):
        client.post(f"/staff/c/first-resp-{n}/claim", data={"csrf": csrf})
    waits = sorted(r.seconds for r in store.first_responses.since(dt.datetime.now(dt.UTC) - dt.timedelta(days=1)))
    assert waits[0] < 60 <= 120 <= waits[1]
    login(client, "chief")
    board = client.get("/staff/supervisor").text
    today = china_today(dt.datetime.now(dt.UTC)).isoformat()
    assert f'<tr><td>{today}</td><td>2</td><td class="over">1</td>' in board
    assert '<tr><td>lin同志</td><td>2</td><td class="over">1</td>' in board


# ---- canned replies


def _claimed_chat(client: Any, session: str, plate: str | None = "NA010001") -> str:
    body: dict[str, Any] = {"session": session, "text": "换身份证要带什么"}
    if plate:
        body["plate"] = plate
    client.post("/api/chat", json=body)
    client.post("/api/chat", json={"session": session, "text": "我要人工"})
    csrf = csrf_of(client.get("/staff").text)
    client.post(f"/staff/c/{session}/claim", data={"csrf": csrf})
    return csrf


@pytest.mark.integration
def test_canned_reply_fills_plate_address_checklist_and_nearest_hall_then_reaches_the_resident(client: Any) -> None:
    add_staff(client, "chief", StaffRole.SUPERVISOR)
    login(client, "chief")
    csrf = _claimed_chat(client, "canned-1")
    body = "您好，您家在{门牌地址}。最近的大厅：{最近大厅}\n{攻略清单}"
    assert (
        client.post("/staff/canned", data={"csrf": csrf, "title": "问候", "body": body, "team": "true"}).status_code
        == 200
    )
    store = client.app.state.store
    reply = store.canned.usable_by(store.staff.by_username("chief").id)[0]
    assert reply.owner_id is None  # team-wide
    page = client.get(f"/staff/c/canned-1?use={reply.id}").text
    lib = client.app.state.kb.library
    plate = lib.plates["NA010001"]
    import html as html_lib
    import re

    draft = html_lib.unescape(re.search(r'<textarea id="reply-text"[^>]*>(.*?)</textarea>', page, re.S).group(1))
    assert plate.full_address in draft
    assert "{" not in draft and not any(note in draft for note in MISSING.values())  # every variable filled
    assert "身份证" in draft  # the checklist of the guide talked about
    halls = [h.name for h in lib.halls.values()]
    assert any(name in draft for name in halls)
    edited = draft.replace("您好", "您好，我是值班长")
    client.post("/staff/c/canned-1/reply", data={"csrf": csrf, "text": edited})
    seen = client.get("/api/chat/canned-1/messages").json()["messages"]
    assert seen[-1]["text"].startswith("您好，我是值班长") and plate.full_address in seen[-1]["text"]


@pytest.mark.integration
def test_canned_reply_without_a_plate_leaves_notes_for_the_agent(client: Any) -> None:
    add_staff(client, "lin")
    login(client, "lin")
    csrf = _claimed_chat(client, "canned-2", plate=None)
    client.post("/staff/canned", data={"csrf": csrf, "title": "地址", "body": "地址：{门牌地址}；大厅：{最近大厅}"})
    store = client.app.state.store
    reply = store.canned.usable_by(store.staff.by_username("lin").id)[0]
    assert reply.owner_id == store.staff.by_username("lin").id  # an agent's own
    page = client.get(f"/staff/c/canned-2?use={reply.id}").text
    assert "【未扫门牌，请问群众地址】" in page and "【未扫门牌，无法定位最近大厅】" in page


@pytest.mark.integration
def test_canned_replies_are_managed_by_supervisors_and_owners(client: Any) -> None:
    add_staff(client, "lin")
    add_staff(client, "wu")
    login(client, "lin")
    csrf = csrf_of(client.get("/staff").text)
    team = client.post("/staff/canned", data={"csrf": csrf, "title": "t", "body": "b", "team": "true"})
    assert team.status_code == 403  # team-wide ones are the supervisors'
    bad = client.post(
        "/staff/canned",
        data={"csrf": csrf, "title": "t", "body": "您好{门牌号}"},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 400 and "门牌号" in bad.json()["error"]["message"]
    client.post("/staff/canned", data={"csrf": csrf, "title": "mine", "body": "我的"})
    store = client.app.state.store
    mine = store.canned.usable_by(store.staff.by_username("lin").id)[0]
    login(client, "wu")
    csrf = csrf_of(client.get("/staff").text)
    assert store.canned.usable_by(store.staff.by_username("wu").id) == []  # not someone else's own
    r = client.post(f"/staff/canned/{mine.id}", data={"csrf": csrf, "title": "x", "body": "y"})
    assert r.status_code == 403 and store.canned.get(mine.id).body == "我的"


# ---- search


def _records(client: Any) -> str:
    """A chat, a callback ticket with a work order, and a 帮办 request, all with one phone number."""
    client.post("/api/chat", json={"session": "search-1", "text": "社保卡丢了怎么补办", "plate": "NA010001"})
    client.post("/api/chat", json={"session": "search-1", "text": "我要人工"})
    client.post("/api/chat/search-1/leave-message", json={"phone": "13912345678", "text": "社保卡补办请回电"})
    r = client.post(
        "/api/agency",
        json={
            "item": "elderly-allowance",
            "name": "王阿嬷",
            "phone": "13912345678",
            "preferred_time": "周二",
            "plate": "NA010001",
        },
    )
    return str(r.json()["code"])


@pytest.mark.integration
@pytest.mark.parametrize(
    ("role", "kinds"),
    [
        (StaffRole.SUPERVISOR, {"conversations", "tickets", "work_orders", "agency"}),
        (StaffRole.AGENT, {"conversations", "tickets", "agency"}),
        (StaffRole.HOTLINE, {"conversations", "work_orders"}),
    ],
)
def test_search_shows_only_what_the_role_may_see_masks_phones_and_is_audited(
    client: Any, role: StaffRole, kinds: set[str]
) -> None:
    _records(client)
    add_staff(client, "who", role)
    login(client, "who")
    page = client.get("/staff/search", params={"phone": "139 1234 5678"}).text
    ids = {"tickets": "r-tickets", "work_orders": "r-work-orders", "agency": "r-agency"}
    for kind, html_id in ids.items():
        assert (f'id="{html_id}"' in page) == (kind in kinds), kind
    assert "13912345678" not in page and ("139****5678" in page) == bool(kinds & set(ids))
    entry = client.app.state.store.audit.latest(1)[0]
    assert entry.action == "search" and entry.username == "who"
    assert "phone=139****5678" in entry.target  # what was searched for (masked), and how many of each kind were shown
    assert all(f"{kind}:" in entry.target for kind in kinds)


@pytest.mark.integration
def test_search_by_text_plate_code_and_date(client: Any) -> None:
    code = _records(client)
    add_staff(client, "chief", StaffRole.SUPERVISOR)
    login(client, "chief")
    by_text = client.get("/staff/search", params={"q": "社保卡"}).text
    assert 'id="r-conversations"' in by_text and 'id="r-tickets"' in by_text and 'id="r-work-orders"' in by_text
    by_plate = client.get("/staff/search", params={"plate": "na010001"}).text  # typed in lower case
    assert 'id="r-conversations"' in by_plate and 'id="r-agency"' in by_plate
    by_code = client.get("/staff/search", params={"code": code}).text
    assert 'id="r-agency"' in by_code and 'id="r-tickets"' not in by_code
    today = china_today(dt.datetime.now(dt.UTC))
    assert 'id="r-agency"' in client.get("/staff/search", params={"date": today.isoformat()}).text
    other = (today - dt.timedelta(days=3)).isoformat()
    assert 'id="search-none"' in client.get("/staff/search", params={"date": other}).text
    bad = client.get("/staff/search", params={"date": "12/02"}, headers={"Accept": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


@pytest.mark.integration
def test_search_is_refused_to_editors(client: Any) -> None:
    add_staff(client, "ed", StaffRole.EDITOR)
    login(client, "ed")
    assert client.get("/staff/search", params={"q": "x"}).status_code == 403
    assert all(e.action != "search" for e in client.app.state.store.audit.latest())


# ---- 好差评 rectification


def _rating(store: Store, level: int = 2) -> Rating:
    return store.ratings.add("chat", level, "态度不好", None, None)


@pytest.mark.integration
def test_rectification_goes_verify_rectify_feedback_revisit_closed_with_the_rerating(store: Store) -> None:
    friday = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    rect = Rectification(store, WorkingDays(), followup_days=5, clock=FixedClock(friday))
    lin = store.staff.add("lin", "小林", StaffRole.AGENT, "x")
    task = rect.open(_rating(store))
    assert task.state is TaskState.VERIFY and task.due_on == dt.date(2026, 12, 4)  # 5 working days, weekend skipped
    with pytest.raises(IllegalTaskStep):
        rect.advance(task.id, TaskState.FEEDBACK, lin, "跳过整改")
    with pytest.raises(BadRequest):
        rect.advance(task.id, TaskState.RECTIFY, lin, "")  # every step says what was done
    rect.advance(task.id, TaskState.RECTIFY, lin, "核实：窗口人员态度生硬属实")
    rect.advance(task.id, TaskState.FEEDBACK, lin, "已约谈窗口人员")
    rect.advance(task.id, TaskState.REVISIT, lin, "电话回访 139 1234 5678")
    with pytest.raises(BadRequest):
        rect.advance(task.id, TaskState.CLOSED, lin, "")  # closing needs the resident's new rating
    done = rect.advance(task.id, TaskState.CLOSED, lin, "群众表示满意", rerating=4)
    assert done.state is TaskState.CLOSED and done.rerating == 4
    assert [h["state"] for h in done.history] == ["核实", "整改", "反馈", "回访", "办结"]
    assert "13912345678" not in str(done.history) and "139****5678" in str(done.history)
    assert not rect.overdue(done, dt.date(2027, 1, 1))  # closed: never overdue


@pytest.mark.integration
def test_appeal_is_decided_by_a_supervisor(store: Store) -> None:
    rect = Rectification(store)
    lin = store.staff.add("lin", "小林", StaffRole.AGENT, "x")
    chief = store.staff.add("chief", "老陈", StaffRole.SUPERVISOR, "x")
    task = rect.open(_rating(store, 1))
    rect.advance(task.id, TaskState.RECTIFY, lin, "核实中")
    appealed = rect.appeal(task.id, lin, "同一号码一天内连打十次差评")
    assert appealed.state is TaskState.APPEALED and appealed.appeal_from == "整改"
    with pytest.raises(SupervisorOnly):
        rect.decide(task.id, lin, upheld=True)
    refused = rect.decide(task.id, chief, upheld=False, note="证据不足")
    assert refused.state is TaskState.RECTIFY  # back where it was
    rect.appeal(task.id, lin, "补充了通话记录")
    upheld = rect.decide(task.id, chief, upheld=True, note="恶意差评")
    assert upheld.state is TaskState.VOIDED
    with pytest.raises(IllegalTaskStep):
        rect.appeal(task.id, lin, "again")
    assert not rect.overdue(upheld, dt.date(2030, 1, 1))


@pytest.mark.integration
def test_overdue_tasks_are_flagged(store: Store) -> None:
    monday = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
    holiday = Holiday(date=dt.date(2026, 11, 25), name="测试假日", closed=True)
    rect = Rectification(store, WorkingDays.of([holiday]), followup_days=2, clock=FixedClock(monday))
    task = rect.open(_rating(store))
    assert task.due_on == dt.date(2026, 11, 26)  # Tue, (Wed holiday), Thu
    assert rect.overdue_count() == 0
    rect.clock = FixedClock(dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC))
    assert rect.overdue_count() == 1 and rect.board()[0]["overdue"] is True


@pytest.mark.integration
def test_a_bad_rating_opens_a_task_on_the_ratings_page(client: Any) -> None:
    r = client.post("/api/rate", json={"target": "answer", "item": "id-card-renew", "level": 2, "comment": "没说清楚"})
    task_id = r.json()["rectification_task"]
    assert task_id is not None
    good = client.post("/api/rate", json={"target": "answer", "item": "id-card-renew", "level": 3})
    assert good.json()["rectification_task"] is None  # 基本满意: no task
    add_staff(client, "lin")
    add_staff(client, "hot", StaffRole.HOTLINE)
    login(client, "lin")
    page = client.get("/staff/ratings").text
    assert f'data-task="{task_id}"' in page and "转到整改" in page
    csrf = csrf_of(page)
    client.post(f"/staff/ratings/{task_id}/advance", data={"csrf": csrf, "to": "整改", "note": "核实属实"})
    assert client.app.state.store.rating_tasks.get(task_id).state is TaskState.RECTIFY
    skip = client.post(f"/staff/ratings/{task_id}/advance", data={"csrf": csrf, "to": "办结", "rerating": "5"})
    assert skip.status_code == 409
    client.post(f"/staff/ratings/{task_id}/appeal", data={"csrf": csrf, "reason": "恶意"})
    assert client.post(f"/staff/ratings/{task_id}/decide", data={"csrf": csrf, "upheld": "true"}).status_code == 403
    login(client, "hot")
    assert client.get("/staff/ratings").status_code == 403


# ---- 12345 clocks


@pytest.mark.integration
def test_work_order_due_on_by_type_in_working_days(store: Store) -> None:
    friday = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)
    orders = WorkOrders(store, "s", calendar=WorkingDays(), clock=FixedClock(friday))
    due = {t: orders.create(t, "内容")["due_on"] for t in OrderType}
    assert due == {
        OrderType.CONSULT: "2026-12-01",  # Friday + 2 working days: Tuesday
        OrderType.SUGGESTION: "2026-12-11",
        OrderType.HELP: "2026-12-11",
        OrderType.COMPLAINT: "2026-12-18",
    }


@pytest.mark.integration
def test_work_order_overdue_in_json_and_csv_and_done_stops_the_clock(client: Any) -> None:
    add_staff(client, "hot", StaffRole.HOTLINE)
    login(client, "hot")
    csrf = csrf_of(client.get("/staff").text)
    h = {"X-CSRF-Token": csrf}
    made = client.post(
        "/staff/api/workorders", json={"type": "咨询", "content": "公积金怎么取", "category": "housing.fund"}, headers=h
    ).json()
    assert made["overdue"] is False and made["category_label"] == "住房城乡建设 / 住房公积金"
    due = dt.date.fromisoformat(made["due_on"])
    orders = client.app.state.workorders
    orders.clock = FixedClock(dt.datetime.combine(due + dt.timedelta(days=1), dt.time(4), dt.UTC))
    assert client.get(f"/staff/api/workorders/{made['code']}").json()["overdue"] is True
    rows = list(csv.reader(io.StringIO(client.get("/staff/workorders.csv").text.lstrip("\ufeff"))))
    head = rows[0]
    assert head[-3:] == ["分类", "办理时限", "是否超期"]
    assert rows[1][-3:] == ["住房城乡建设 / 住房公积金", made["due_on"], "超期"]
    assert "已超期" in client.get("/staff/workorders").text
    for step, extra in [
        ("派单", {"department": "公积金中心"}),
        ("办理", {}),
        ("回复", {"reply": "带身份证"}),
        ("办结", {}),
    ]:
        client.post(f"/staff/api/workorders/{made['code']}/advance", json={"to": step, **extra}, headers=h)
    assert client.get(f"/staff/api/workorders/{made['code']}").json()["overdue"] is False
    bad = client.post("/staff/api/workorders", json={"type": "咨询", "content": "x", "category": "nope"}, headers=h)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


@pytest.mark.integration
def test_a_status_change_goes_back_to_the_residents_web_chat(client: Any) -> None:
    client.post("/api/chat", json={"session": "order-back-1", "text": "我要人工"})
    client.post("/api/chat/order-back-1/leave-message", json={"phone": "13912345678", "text": "路灯坏了"})
    add_staff(client, "hot", StaffRole.HOTLINE)
    login(client, "hot")
    csrf = csrf_of(client.get("/staff").text)
    code = client.app.state.workorders.all()[0]["code"]
    client.post(
        f"/staff/api/workorders/{code}/advance",
        json={"to": "派单", "department": "城管局"},
        headers={"X-CSRF-Token": csrf},
    )
    texts = [m["text"] for m in client.get("/api/chat/order-back-1/messages").json()["messages"]]
    assert SAY["order_status"].format(code=code, status="派单", reply="") in texts


@pytest.mark.integration
def test_taxonomy_file_is_checked_and_replaceable(tmp_path: Path) -> None:
    shipped = load_taxonomy(ROOT / "guides" / "workorders.yaml")
    assert {t: shipped.due_days(t) for t in OrderType} == {
        OrderType.CONSULT: 2,
        OrderType.SUGGESTION: 10,
        OrderType.HELP: 10,
        OrderType.COMPLAINT: 15,
    }
    assert shipped.types == Taxonomy.default().types
    county = tmp_path / "county.yaml"
    county.write_text(
        "types: {咨询: {due_days: 1}, 建议: {due_days: 7}, 求助: {due_days: 5}, 投诉: {due_days: 10}}\n"
        "categories: [{code: a, name: 甲}]\n",
        encoding="utf-8",
    )
    assert load_taxonomy(county).due_days(OrderType.CONSULT) == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "types: {咨询: {due_days: 0}}\ncategories: [{code: a, name: 甲}, {code: a, name: 乙}]\n", encoding="utf-8"
    )
    with pytest.raises(ContentError) as err:
        load_taxonomy(broken)
    assert any(p.field == "types.咨询.due_days" for p in err.value.problems)


@pytest.mark.integration
def test_taxonomy_missing_types_and_duplicate_codes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "types: {咨询: {due_days: 2}}\ncategories: [{code: a, name: 甲}, {code: a, name: 乙}]\n", encoding="utf-8"
    )
    with pytest.raises(ContentError) as err:
        load_taxonomy(path)
    fields = {p.field for p in err.value.problems}
    assert {"types.投诉", "types.建议", "types.求助", "categories"} <= fields


# ---- the readable console


@pytest.mark.integration
def test_console_shows_labels_and_its_own_layout(client: Any) -> None:
    add_staff(client, "lin")
    client.post("/api/chat", json={"session": "label-0001", "text": "我要人工", "plate": "NA010001"})
    login(client, "lin")
    page = client.get("/staff").text
    assert "群众要求人工" in page and "网页（门牌）" in page
    assert ">asked<" not in page and "原因: asked" not in page
    assert "大字版" not in page and 'href="tel:12345"' not in page  # no resident chrome
    assert 'class="desk"' in page and 'id="panel"' in page
    chat = client.get("/staff/c/label-0001").text
    assert "排队等人工" in chat and 'id="panel"' in chat and 'class="desk-main conversation"' in chat
    login_page = client.get("/staff/login").text
    assert "大字版" not in login_page


@pytest.mark.integration
def test_live_state_carries_offers_unread_and_overdue(store: Store) -> None:
    from web.helpdesk.chats import live_state

    a = agent(store, "a")
    router = Router(store, CHAT_ROLES)
    waiting(store, "live-1")
    router.offer("live-1")
    staff = store.staff.get(a)
    assert live_state(store, staff, overdue=2)["offered"] == ["live-1"]
    store.conversations.apply("live-1", HandoffEvent.CLAIM, staff_id=a)
    first = live_state(store, staff)["unread"]["live-1"]
    store.conversations.add_message("live-1", Role.RESIDENT, "在吗")
    state = live_state(store, staff, overdue=2)
    assert state["offered"] == [] and state["unread"]["live-1"] > first and state["overdue"] == 2
    assert store.conversations.find("live-1").mode is Mode.AGENT
