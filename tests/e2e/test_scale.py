"""The scaled stack of ``make demo-scale``: nginx in front of 2 web copies and 2 Rasa copies, web
on PostgreSQL, Rasa's tracker on PostgreSQL and its locks on Redis, one action server.

A conversation whose turns land on both web copies (and so on both Rasa copies) keeps its
context; a chat handed over through one copy is claimed and answered by staff through the
other, and the resident's long poll held by the first copy gets the reply within a second
(PostgreSQL LISTEN/NOTIFY; without it, at the next re-read after up to 3 s).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from knowledge.settings import RATE_DEFAULTS
from scripts.stack import free_port, scale_env, scale_servers, start_actions, start_nginx, start_rasa, start_web
from tests.web.test_wechat import APPID, SECRET, TOKEN, sign, text_xml
from web.db.engine import make_engine
from web.db.store import Store
from web.db.tables import StaffRole
from web.helpdesk.auth import hash_password

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

PG_URL = os.environ.get("MENPAI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "scale-test-password-0123"


@dataclass
class Scaled:
    front: str  # nginx
    webs: list[str]  # each copy directly, as web-1, web-2


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A throw-away PostgreSQL database shared by both web copies and both Rasa copies."""
    name = f"menpai_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Scaled]:
    tmp = tmp_path_factory.mktemp("scale")
    env = scale_env(database, "scale-test-secret-key-" + uuid.uuid4().hex)
    store = Store(make_engine(database))
    store.migrate()
    store.staff.add("agent", "值班员", StaffRole.AGENT, hash_password(PASSWORD))
    store.engine.dispose()
    with ExitStack() as stack:
        actions_url, _ = start_actions(stack, tmp)

        def rasa(_: int) -> tuple[ExitStack, str]:
            own = ExitStack()
            try:
                return own, start_rasa(own, tmp, timeout=480, actions_url=actions_url, env=env["rasa"]).url
            except BaseException:
                own.close()
                raise

        with ThreadPoolExecutor(2) as pool:  # both load their model at once
            rasas = list(pool.map(rasa, range(2)))
        for own, _ in rasas:
            stack.enter_context(own)
        rasa_port, front_port = free_port(), free_port()
        webs = []
        for n in (1, 2):
            web_env = {
                **env["web"],
                "MENPAI_INSTANCE_NAME": f"web-{n}",
                "MENPAI_STAFF_HOURS": "always",
                "MENPAI_WECHAT_TOKEN": TOKEN,
                "MENPAI_WECHAT_APPID": APPID,
                "MENPAI_WECHAT_SECRET": SECRET,
                "MENPAI_WECHAT_API_BASE": "fake",
                **{f"MENPAI_RATE_{name.upper()}": "100000/60" for name in RATE_DEFAULTS},
            }
            webs.append(start_web(stack, tmp / f"web-{n}", f"http://127.0.0.1:{rasa_port}", env=web_env).url)
        servers = scale_servers(front_port, webs, rasa_port, [url for _, url in rasas])
        start_nginx(stack, tmp / "nginx", servers, ready=f"http://127.0.0.1:{front_port}/healthz")
        yield Scaled(f"http://127.0.0.1:{front_port}", webs)


def test_every_copy_is_healthy_listening_and_names_itself(scaled: Scaled) -> None:
    served = set()
    for _ in range(6):
        r = httpx.get(f"{scaled.front}/healthz", timeout=10)
        assert r.status_code == 200 and r.json()["rasa"] == "up" and r.json()["notify"] == "listening", r.json()
        served.add(r.headers["x-served-by"])
    assert served == {"web-1", "web-2"}, "nginx reaches both copies"


def test_a_conversation_across_both_copies_keeps_its_context(scaled: Scaled) -> None:
    session = f"scale-{uuid.uuid4().hex[:10]}"
    served: list[str] = []
    with httpx.Client(base_url=scaled.front, timeout=30) as c:

        def say(words: str) -> dict[str, Any]:
            c.cookies.clear()  # an API client: the chat is named by its id, whichever copy answers
            r = c.post("/api/chat", json={"session": session, "text": words, "plate": "NA010001"})
            assert r.status_code == 200, r.text
            served.append(r.headers["x-served-by"])
            return r.json()["messages"][0]

        first = say("结婚登记要带什么")
        assert first["item"] == "marriage-registration" and "智能助手暂时忙" not in first["text"]
        fee = say("那要多少钱")  # names no service: the other copy must know which one
        assert fee["kind"] == "answer" and fee["item"] == "marriage-registration" and fee["direct"] is True
        where = say("在哪里办")
        assert where["item"] == "marriage-registration" and where["direct"] is True
        fee_again = say("要钱吗")
        assert fee_again["item"] == "marriage-registration"
    assert set(served) == {"web-1", "web-2"}, f"the turns all landed on one copy: {served}"


def test_a_handoff_through_one_copy_is_answered_through_the_other_within_a_second(scaled: Scaled) -> None:
    web1, web2 = scaled.webs
    session = f"scale-hand-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=web1, timeout=30) as resident, httpx.Client(base_url=web2, timeout=30) as staff:
        asked = resident.post("/api/chat", json={"session": session, "text": "我要人工"}).json()
        assert asked["mode"] == "waiting"
        # Staff log in, see the queue and claim the chat on the other copy.
        login = staff.post("/staff/login", data={"username": "agent", "password": PASSWORD})
        assert login.status_code in (200, 303)
        queue = staff.get("/staff")
        assert session in queue.text and queue.headers["x-served-by"] == "web-2"
        csrf = re.search(r'name="csrf" value="([^"]+)"', queue.text).group(1)  # type: ignore[union-attr]
        assert staff.post(f"/staff/c/{session}/claim", data={"csrf": csrf}).status_code < 400
        after = max(m["id"] for m in resident.get(f"/api/chat/{session}/messages").json()["messages"])

        def poll() -> tuple[list[str], float]:
            r = resident.get(f"/api/chat/{session}/messages", params={"after": after, "wait": 20})
            assert r.headers["x-served-by"] == "web-1"
            return [m["text"] for m in r.json()["messages"] if m["role"] == "staff"], time.perf_counter()

        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(poll)
            time.sleep(0.5)  # the long poll is held by web-1
            sent = time.perf_counter()
            r = staff.post(f"/staff/c/{session}/reply", data={"csrf": csrf, "text": "您好，我是小林，请讲。"})
            assert r.status_code < 400 and r.headers["x-served-by"] == "web-2"
            texts, arrived = held.result(timeout=30)
        assert texts == ["您好，我是小林，请讲。"]
        assert arrived - sent < 1.0, f"the reply took {arrived - sent:.2f}s to reach the other copy's long poll"


def test_a_wechat_retry_reaching_the_other_copy_is_answered_once(scaled: Scaled, database: str) -> None:
    """WeChat retries a message it got no answer to in time; behind nginx the retry may reach the
    other copy. The de-duplication row (primary key MsgId) is in PostgreSQL: one resident message
    is stored, and the retry gets the same answer."""
    openid = f"oScale{uuid.uuid4().hex[:12]}"
    xml = text_xml("结婚登记要带什么", 880_000_000 + int(time.time()) % 1000, openid)
    replies = []
    for web in scaled.webs:  # the first post to web-1, the retry to web-2
        r = httpx.post(f"{web}/wechat", params=sign(), content=xml, timeout=30)
        assert r.status_code == 200
        replies.append(re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", r.text, re.S))
    assert replies[0] is not None and replies[1] is not None, "both answered passively"
    assert replies[0].group(1) == replies[1].group(1) and "您是哪种情况" in replies[0].group(1)
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*) FROM messages WHERE role = 'resident' AND conversation_id LIKE :c"),
                {"c": f"%{openid}%"},
            ).scalar()
    finally:
        engine.dispose()
    assert stored == 1
