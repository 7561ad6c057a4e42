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
