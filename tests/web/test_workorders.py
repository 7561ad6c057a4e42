"""12345 work orders: the flow, the JSON API and CSV export, and the signed webhook with retry and restart."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from web.db.store import Store
from web.db.tables import OrderStatus, OrderType, StaffRole
from web.helpdesk.auth import hash_password
from web.helpdesk.workorders import IllegalOrderStep, WebhookSender, WorkOrders, sign_body

pytestmark = pytest.mark.integration
SECRET = "webhook-secret"


def test_order_follows_the_flow_step_by_step(store: Store) -> None:
    orders = WorkOrders(store, SECRET)
    o = orders.create(OrderType.HELP, "社保卡丢了，老人不会弄，电话13912345678", phone="13912345678")
    assert o["status"] == "受理" and "139****5678" in o["content"]
    with pytest.raises(IllegalOrderStep, match="cannot go to 办理"):
        orders.advance(o["code"], OrderStatus.HANDLING, by="t")
    with pytest.raises(IllegalOrderStep, match="needs the department"):
        orders.advance(o["code"], OrderStatus.DISPATCHED, by="t")
    orders.advance(o["code"], OrderStatus.DISPATCHED, by="t", department="南安市人社局")
    orders.advance(o["code"], OrderStatus.HANDLING, by="t")
    with pytest.raises(IllegalOrderStep, match="needs the reply"):
        orders.advance(o["code"], OrderStatus.REPLIED, by="t")
    orders.advance(o["code"], OrderStatus.REPLIED, by="t", reply="已电话告知补卡材料")
    orders.advance(o["code"], OrderStatus.CLOSED, by="t")
    orders.advance(o["code"], OrderStatus.REVISITED, by="t")
    done = orders.advance(o["code"], OrderStatus.RATED, by="t", rating=5)
    assert [h["status"] for h in done["history"]] == [s.value for s in OrderStatus]
    with pytest.raises(IllegalOrderStep):
        orders.advance(o["code"], OrderStatus.RECEIVED, by="t")


class Receiver:
    """A local fake 12345 platform: checks the HMAC signature, fails the first N calls."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.calls = 0
        self.received: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Any:
            self.calls += 1
            body = await request.body()
            expected = "sha256=" + sign_body(SECRET, request.headers["x-menpai-timestamp"], body)
            if request.headers.get("x-menpai-signature") != expected:
                return JSONResponse({"error": "bad signature"}, status_code=401)
            if self.calls <= self.fail_first:
                return JSONResponse({"error": "busy"}, status_code=503)
            self.received.append(json.loads(body))
            return {"ok": True}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://12345")


def _make_due(store: Store) -> None:
    from sqlalchemy import update

    from web.db.tables import WebhookDelivery, utcnow

    with store.tx() as s:
        s.execute(update(WebhookDelivery).values(next_at=utcnow()))


def test_webhook_is_signed_and_retried_with_backoff(store: Store) -> None:
    receiver = Receiver(fail_first=2)
    orders = WorkOrders(store, SECRET)
    orders.create(OrderType.COMPLAINT, "窗口让我跑了三趟")
    sender = WebhookSender(store, "http://12345/hook", SECRET, receiver.client())
    assert asyncio.run(sender.run_once()) == 0  # 503
    assert asyncio.run(sender.run_once()) == 0  # not due yet: backing off
    _make_due(store)
    assert asyncio.run(sender.run_once()) == 0  # 503 again
    _make_due(store)
    assert asyncio.run(sender.run_once()) == 1
    assert receiver.received[0]["event"] == "created" and receiver.received[0]["order"]["type"] == "投诉"
    assert sender.pending() == 0


def test_webhook_outbox_survives_a_restart(store: Store) -> None:
    WorkOrders(store, SECRET).create(OrderType.CONSULT, "公积金怎么取")
    down = WebhookSender(store, "http://127.0.0.1:9/hook", SECRET)  # platform unreachable
    assert asyncio.run(down.run_once()) == 0
    # A new process (new sender, same database) delivers what the first could not.
    receiver = Receiver()
    _make_due(store)
    restarted = WebhookSender(Store(store.engine), "http://12345/hook", SECRET, receiver.client())
    assert asyncio.run(restarted.run_once()) == 1
    assert receiver.received[0]["order"]["content"] == "公积金怎么取"


def test_workorder_json_api_and_csv_export(client: Any) -> None:
    client.app.state.store.staff.add("hot", "热线小王", StaffRole.HOTLINE, hash_password("hotline-password"))
    client.post("/staff/login", data={"username": "hot", "password": "hotline-password"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/staff").text).group(1)
    body = {"type": "咨询", "content": "问换身份证要带什么", "callback_phone": "13912345678"}
    assert client.post("/staff/api/workorders", json=body).status_code == 403  # no CSRF header
    r = client.post("/staff/api/workorders", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    code = r.json()["code"]
    assert client.get(f"/staff/api/workorders/{code}").json()["status"] == "受理"
    r = client.post(f"/staff/api/workorders/{code}/advance", json={"to": "办理"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
    csv_text = client.get("/staff/workorders.csv").text
    assert csv_text.startswith("\ufeff工单编号") and code in csv_text


def test_hotline_search_gives_sms_ready_text(client: Any) -> None:
    client.app.state.store.staff.add("hot2", "热线小李", StaffRole.HOTLINE, hash_password("hotline-password"))
    client.post("/staff/login", data={"username": "hot2", "password": "hotline-password"})
    page = client.get("/staff/hotline", params={"q": "结婚登记要带什么"}).text
    assert 'id="sms"' in page and "要带的材料" in page


def test_leave_message_also_opens_a_help_work_order(client: Any) -> None:
    client.post("/api/chat", json={"session": "after-hours-1", "text": "我要人工"})
    client.post("/api/chat/after-hours-1/leave-message", json={"phone": "13912345678", "text": "请明天回电"})
    orders = client.app.state.workorders.all()
    assert orders[0]["type"] == "求助" and orders[0]["callback_phone"] == "13912345678"
