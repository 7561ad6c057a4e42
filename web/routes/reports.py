"""Residents report wrong information (信息有误？): a plain form on every guide and answer, and JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, ValidationError

from knowledge.errors import NotFound
from knowledge.schema import Guide
from knowledge.service import KnowledgeBase
from web.api_models import API_ERRORS, PAGE_ERRORS, ReportOut, body
from web.db.tables import ReportPart
from web.deps import get_kb
from web.errors import RateLimited
from web.helpdesk.agency import PHONE_PATTERN
from web.helpdesk.deps import ReportsDep, renderer
from web.helpdesk.editor import Reports, file_report
from web.ratelimit import Limit, Throttle, get_throttle

router = APIRouter()

MAX_REPORT_CHARS = 1000


class ReportIn(BaseModel):
    part: ReportPart
    text: str = Field(min_length=1, max_length=MAX_REPORT_CHARS)
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    situation: str | None = Field(default=None, max_length=48)


def _guide(kb: KnowledgeBase, code: str) -> Guide:
    guide = kb.library.guides.get(code)
    if guide is None:
        raise NotFound(f"没有编号为 {code} 的办事攻略")
    return guide


def _file(reports: Reports, guide: Guide, body: ReportIn, throttle: Throttle) -> int:
    """File a report; RateLimited past MENPAI_RATE_REPORT_PER_IP from one client."""
    throttle.check(Limit.REPORT_PER_IP)
    return file_report(
        reports, guide, body.part, body.text, ip=throttle.ip, phone=body.phone, situation=body.situation
    ).id


def _form_context(
    guide: Guide, *, situation: str = "", part: str = "", text: str = "", error: str = "", done: bool
) -> dict[str, Any]:
    return {
        "guide": guide,
        "situation": situation,
        "part": part,
        "text": text,
        "error": error,
        "done": done,
    }


@router.get("/g/{code}/report", response_class=HTMLResponse, responses=PAGE_ERRORS)
def report_form(
    request: Request,
    code: str,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    s: Annotated[str, Query(max_length=48)] = "",
    part: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    context = _form_context(_guide(kb, code), situation=s, part=part, done=False)
    return renderer(request).page(request, "report.html", context)


@router.post("/g/{code}/report", response_class=HTMLResponse, responses=PAGE_ERRORS)
def report_submit(
    request: Request,
    code: str,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    reports: ReportsDep,
    throttle: Annotated[Throttle, Depends(get_throttle)],
    part: Annotated[str, Form(max_length=16)] = "",
    text: Annotated[str, Form(max_length=MAX_REPORT_CHARS)] = "",
    phone: Annotated[str, Form(max_length=20)] = "",
    s: Annotated[str, Form(max_length=48)] = "",
) -> Response:
    """The form without JavaScript: a plain POST, answered with a thank-you (or what to fix)."""
    guide = _guide(kb, code)
    page = renderer(request).page
    try:
        body = ReportIn(part=part, text=text.strip(), phone=phone.strip() or None, situation=s or None)
    except ValidationError:
        error = "请选一下哪部分有误，写上哪里不对；留电话的话要写对号码（11位手机或带区号的座机）。"
        context = _form_context(guide, situation=s, part=part, text=text, error=error, done=False)
        return page(request, "report.html", context, status=400)
    try:
        _file(reports, guide, body, throttle)
    except RateLimited as exc:
        context = _form_context(guide, situation=s, part=part, text=text, error=str(exc), done=False)
        return page(request, "report.html", context, status=429, headers={"Retry-After": str(exc.retry_after)})
    return page(request, "report.html", _form_context(guide, situation=s, done=True))


@router.post("/api/guides/{code}/reports", status_code=201, responses={**API_ERRORS, **body(ReportOut, 201, "Created")})
def report_json(
    request: Request,
    code: str,
    body: ReportIn,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    reports: ReportsDep,
    throttle: Annotated[Throttle, Depends(get_throttle)],
) -> dict[str, Any]:
    """Report wrong information in a guide; 429 with Retry-After past 5 reports in 10 minutes."""
    report_id = _file(reports, _guide(kb, code), body, throttle)
    return {"report": report_id, "status": "open"}
