"""What the public API answers, declared: response bodies and the error responses, for /openapi.json.

Routes keep returning plain dicts (so no field is ever filtered away); these models document
them (``responses=``) and tests/web/test_openapi.py validates real responses against them, so
the document cannot drift from what the API sends. Extra fields are allowed: fields are added
over time, never renamed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------------ errors


class ErrorDetail(BaseModel):
    code: str
    message: str
    status: int


class ErrorBody(BaseModel):
    """The one JSON error shape: {"error": {"code", "message", "status"}}."""

    error: ErrorDetail


_ERRORS = {
    400: "bad request (e.g. an unknown door plate, an empty message)",
    404: "not found",
    409: "not possible in the present state (e.g. leaving a message while staff can take the chat)",
    413: "the request body is too large",
    422: "the request does not match the schema",
    429: "too many requests; Retry-After says when to try again",
    500: "the server failed; nothing was lost",
}


def json_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these error statuses, all in the one JSON shape."""
    return {s: {"model": ErrorBody, "description": _ERRORS[s]} for s in statuses}


def html_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error pages for people (HTML); the JSON shape too when the client asks for JSON."""
    out: dict[int | str, dict[str, Any]] = {}
    for s in statuses:
        out[s] = {"description": _ERRORS[s], "content": {"text/html": {"schema": {"type": "string"}}}}
    out[422] = {
        "description": _ERRORS[422] + " (an HTML page, or the JSON shape when Accept asks for JSON)",
        "content": {
            "text/html": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}},
        },
    }
    return out


API_ERRORS = json_errors(400, 404, 413, 422, 429, 500)
PAGE_ERRORS = html_errors(400, 404, 413, 429, 500)
HTML_PAGE: dict[int | str, dict[str, Any]] = {
    200: {"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
}
REDIRECT: dict[int | str, dict[str, Any]] = {303: {"description": "see the page (the plain form's answer)"}}
MOVED: dict[int | str, dict[str, Any]] = {301: {"description": "the plate's canonical address (code in upper case)"}}


# ------------------------------------------------------------------ bodies


class IndexInfo(_Open):
    entries: int
    embedder: str
    dense: bool


class HealthOut(_Open):
    status: str
    rasa: str
    notify: str = Field(description="off (SQLite), listening or down: PostgreSQL LISTEN for other copies' changes")
    index: IndexInfo


class CandidateOut(_Open):
    item: str
    score: float
    situation: str | None


class AskOut(_Open):
    abstain: bool
    confidence: float
    aspect: str | None
    declined_topic: str | None
    candidates: list[CandidateOut]
    answer: dict[str, Any] | None


class ChoiceOut(_Open):
    value: str
    label: str


class MessageOut(_Open):
    """One message of a turn; ``kind`` is answer, choices, handoff or text."""

    kind: str
    text: str
    item: str | None = None
    situation: str | None = None
    html: str | None = None
    choice_kind: str | None = None
    choices: list[ChoiceOut] | None = None


class ChatOut(_Open):
    session: str
    mode: str
    messages: list[MessageOut]


class TranscriptMessage(_Open):
    id: int
    role: str
    kind: str
    text: str


class MessagesOut(_Open):
    mode: str
    messages: list[TranscriptMessage]
    last_id: int


class LeftMessageOut(_Open):
    ticket: int
    mode: str


class RatingOut(_Open):
    rating: int
    label: str
    follow_up_ticket: int | None
    rectification_task: int | None = None


class AgencyOut(_Open):
    code: str
    status: str


class AgencyStatusOut(_Open):
    code: str
    item: str
    status: str
    note: str | None
    updated_at: str


class ReportOut(_Open):
    report: int
    status: str


def body(model: type[BaseModel], status: int = 200, description: str = "OK") -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model, "description": description}}
