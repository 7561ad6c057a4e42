"""/openapi.json declares every response of the public API, errors included, and what the API
really sends matches what it declares."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from web import api_models as m


def _spec(client: Any) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def test_every_operation_declares_its_success_and_its_errors(client: Any) -> None:
    problems = []
    for path, ops in _spec(client)["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            success = [c for c in responses if c.startswith("2")]
            if not success:
                problems.append(f"{method.upper()} {path}: no success response")
            for code in success:
                if code != "204" and not responses[code].get("content"):
                    problems.append(f"{method.upper()} {path} {code}: no content type")
            for code in ("400", "404", "422", "500"):
                if code not in responses:
                    problems.append(f"{method.upper()} {path}: {code} not declared")
            schema = (responses.get("422", {}).get("content") or {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref", "").rsplit("/", 1)[-1] != "ErrorBody":
                problems.append(f"{method.upper()} {path}: 422 is not the one error shape")
    assert not problems, "\n".join(problems)


def _valid(model: type[BaseModel], data: Any) -> None:
    model.model_validate(data)  # raises with the field that does not match


def test_responses_match_their_declared_models(client: Any) -> None:
    session = "openapi-check-1"
    _valid(m.HealthOut, client.get("/healthz").json())
    _valid(m.AskOut, client.post("/api/ask", json={"q": "换身份证要带什么", "plate": "NA010001"}).json())
    chat = client.post("/api/chat", json={"session": session, "text": "身份证过期了要带什么", "plate": "NA010001"})
    _valid(m.ChatOut, chat.json())
    handoff = client.post("/api/chat", json={"session": session, "human": True}).json()
    _valid(m.ChatOut, handoff)
    _valid(m.MessagesOut, client.get(f"/api/chat/{session}/messages").json())
    left = client.post(f"/api/chat/{session}/leave-message", json={"phone": "13912345678", "text": "请回电"})
    assert left.status_code == 201, left.text
    _valid(m.LeftMessageOut, left.json())
    rated = client.post("/api/rate", json={"session": session, "target": "chat", "level": 5})
    assert rated.status_code == 201
    _valid(m.RatingOut, rated.json())
    agency = client.post(
        "/api/agency",
        json={
            "item": "elderly-allowance",
            "name": "王阿嬷",
            "phone": "13912345678",
            "preferred_time": "周二上午",
            "plate": "NA010001",
        },
    )
    assert agency.status_code == 201
    _valid(m.AgencyOut, agency.json())
    _valid(m.AgencyStatusOut, client.get(f"/api/agency/{agency.json()['code']}").json())


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("post", "/api/chat", {"text": "x" * 1001}, 422),
        ("post", "/api/chat", {"session": "openapi-check-2", "text": "你好", "plate": "ZZ999999"}, 400),
        ("get", "/api/agency/NOSUCH", None, 404),
        ("post", "/api/ask", {"q": ""}, 422),
    ],
)
def test_errors_come_in_the_declared_shape(
    client: Any, method: str, path: str, payload: dict[str, Any] | None, status: int
) -> None:
    r = client.post(path, json=payload) if method == "post" else client.get(path)
    assert r.status_code == status
    body = m.ErrorBody.model_validate(r.json())
    assert body.error.status == status
    declared = _spec(client)["paths"]
    op = next(
        ops[method] for p, ops in declared.items() if p.split("{")[0] == path[: len(p.split("{")[0])] and method in ops
    )
    assert str(status) in op["responses"]


def test_found_by_fuzzing_a_huge_message_id_and_a_wrong_method(client: Any) -> None:
    # schemathesis found both: an id past 64 bits was a 500, a 405 lost its Allow header.
    r = client.get("/api/chat/fuzz-session-1/messages", params={"after": 2**70})
    assert r.status_code == 422 and m.ErrorBody.model_validate(r.json()).error.status == 422
    wrong = client.request("TRACE", "/api/chat")
    assert wrong.status_code == 405 and "POST" in wrong.headers.get("allow", "")
    bad_item = client.post(
        "/api/agency", json={"item": "", "name": "王", "phone": "13912345678", "preferred_time": "上午"}
    )
    assert bad_item.status_code == 422
