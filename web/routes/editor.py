"""The editor's pages and API (/staff/editor, /staff/api/guides): editors and supervisors only."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from knowledge.errors import BadRequest, Problem
from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from web.db.engine import in_thread
from web.deps import get_kb, get_settings
from web.errors import error_body
from web.helpdesk.auth import Auth, StaffSession
from web.helpdesk.deps import CsrfField, Editor, EditorSession, ReportsDep, renderer
from web.helpdesk.editor import MAX_NOTE_CHARS, GuideEditor, GuideInvalid, Reports, VersionConflict, overview
from web.routes.pages import guide_page
from web.urls import SITE

router = APIRouter(prefix="/staff", include_in_schema=False)

MAX_GUIDE_CHARS = 60_000
NoteField = Annotated[str, Form(max_length=MAX_NOTE_CHARS)]
Kb = Annotated[KnowledgeBase, Depends(get_kb)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response: HTMLResponse = renderer(request).page(request, template, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _home(
    request: Request,
    session: StaffSession,
    editor: GuideEditor,
    reports: Reports,
    kb: KnowledgeBase,
    settings: Settings,
    *,
    days: int = 30,
    message: str = "",
    problems: list[Problem] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "staff/editor.html",
        {
            "me": session.staff,
            "csrf": session.csrf,
            **overview(editor, reports, kb, days),
            "refresh_seconds": round(settings.guide_refresh_seconds),
            "message": message,
            "problems": problems or [],
        },
        status=status,
    )


@router.get("/editor", response_class=HTMLResponse)
def editor_home(
    request: Request,
    session: EditorSession,
    editor: Editor,
    reports: ReportsDep,
    kb: Kb,
    settings: SettingsDep,
    days: int = 30,
) -> Response:
    """Every guide with its review state, last change and open reports; the report queue; unanswered questions."""
    message = request.query_params.get("done", "")[:200]
    return _home(request, session, editor, reports, kb, settings, days=max(1, min(days, 365)), message=message)


def _edit_page(
    request: Request,
    session: StaffSession,
    editor: GuideEditor,
    code: str,
    text: str,
    *,
    base: int,
    problems: list[Problem] | None = None,
    message: str = "",
    note: str = "",
    status: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "staff/editor_guide.html",
        {
            "me": session.staff,
            "csrf": session.csrf,
            "guide": editor.library.guides[code],
            "code": code,
            "text": text,
            "base": base,
            "problems": problems or [],
            "message": message,
            "note": note,
        },
        status=status,
    )


@router.get("/editor/guides/{code}", response_class=HTMLResponse)
def edit_guide(request: Request, code: str, session: EditorSession, editor: Editor) -> Response:
    version = editor.current_version(code)
    text = editor.version_text(code, version)
    published = request.query_params.get("published", "")
    message = f"已发布第 {published} 版：居民页面和智能助手的回答已经用上新内容。" if published.isdigit() else ""
    return _edit_page(request, session, editor, code, text, base=version, message=message)


@router.post("/editor/guides/{code}", response_class=HTMLResponse)
async def save_guide(
    request: Request,
    code: str,
    session: EditorSession,
    editor: Editor,
    csrf: CsrfField,
    text: Annotated[str, Form(max_length=MAX_GUIDE_CHARS)],
    base: Annotated[int, Form(ge=0)],
    note: NoteField = "",
    action: Annotated[str, Form(pattern="^(check|publish)$")] = "check",
) -> Response:
    """检查 (check only) or 发布 (publish with a note); problems are shown above the text, nothing is lost."""
    Auth.check_csrf(session, csrf)
    if action == "check":
        _, problems = await asyncio.to_thread(editor.check, code, text)
        message = "" if problems else "检查通过：没有发现问题，可以预览或发布。"
        return _edit_page(
            request, session, editor, code, text, base=base, problems=problems, message=message, note=note
        )
    try:
        outcome = await asyncio.to_thread(
            editor.publish, code, text, author_id=session.staff.id, note=note.strip(), base=base
        )
    except GuideInvalid as exc:
        return _edit_page(request, session, editor, code, text, base=base, problems=exc.problems, note=note, status=422)
    except VersionConflict as exc:
        return _edit_page(request, session, editor, code, text, base=base, message=str(exc), note=note, status=409)
    return RedirectResponse(SITE.editor_guide(code, published=outcome.version), status_code=303)


@router.post("/editor/guides/{code}/preview", response_class=HTMLResponse)
async def preview_guide(
    request: Request,
    code: str,
    session: EditorSession,
    editor: Editor,
    csrf: CsrfField,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    text: Annotated[str, Form(max_length=MAX_GUIDE_CHARS)],
    base: Annotated[int, Form(ge=0)] = 0,
) -> Response:
    """The resident's guide page rendered from the unsaved text (nothing is published)."""
    Auth.check_csrf(session, csrf)
    preview, problems = await asyncio.to_thread(editor.preview, code, text)
    if preview is None:
        return _edit_page(request, session, editor, code, text, base=base, problems=problems, status=422)
    page = guide_page(preview, code, kb.clock.now())
    return _page(request, "guide.html", {"page": page, "preview": True})


def _history_page(
    request: Request,
    session: StaffSession,
    editor: GuideEditor,
    code: str,
    problems: list[Problem] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "staff/editor_history.html",
        {
            "me": session.staff,
            "csrf": session.csrf,
            "guide": editor.library.guides.get(code),
            "code": code,
            "versions": editor.history(code),
            "current": editor.current_version(code),
            "problems": problems or [],
        },
        status=status,
    )


@router.get("/editor/guides/{code}/history", response_class=HTMLResponse)
def guide_history(request: Request, code: str, session: EditorSession, editor: Editor) -> Response:
    return _history_page(request, session, editor, code)


@router.get("/editor/guides/{code}/v/{version}", response_class=HTMLResponse)
def guide_version(request: Request, code: str, version: int, session: EditorSession, editor: Editor) -> Response:
    """One version's text, and what changed from the version before it."""
    text, diff = editor.version_diff(code, version)
    return _page(
        request,
        "staff/editor_version.html",
        {"me": session.staff, "csrf": session.csrf, "code": code, "version": version, "text": text, "diff": diff},
    )


@router.post("/editor/guides/{code}/rollback/{version}", response_class=HTMLResponse)
async def rollback_form(
    request: Request, code: str, version: int, session: EditorSession, editor: Editor, csrf: CsrfField
) -> Response:
    Auth.check_csrf(session, csrf)
    try:
        outcome = await asyncio.to_thread(editor.rollback, code, version, author_id=session.staff.id)
    except GuideInvalid as exc:  # an old text may clash with what other guides say now
        return await in_thread(_history_page, request, session, editor, code, exc.problems, status=422)
    return RedirectResponse(SITE.editor_guide(code, published=outcome.version), status_code=303)


@router.post("/editor/reports/{report_id}/resolve")
def resolve_report(
    report_id: int,
    session: EditorSession,
    reports: ReportsDep,
    csrf: CsrfField,
    note: Annotated[str, Form(min_length=1, max_length=MAX_NOTE_CHARS)],
) -> Response:
    Auth.check_csrf(session, csrf)
    reports.resolve(report_id, staff_id=session.staff.id, note=note)
    return RedirectResponse("/staff/editor?done=已处理报错#reports", status_code=303)


@router.post("/editor/unanswered", response_class=HTMLResponse)
async def add_unanswered(
    request: Request,
    session: EditorSession,
    editor: Editor,
    reports: ReportsDep,
    kb: Kb,
    settings: SettingsDep,
    csrf: CsrfField,
    text: Annotated[str, Form(min_length=1, max_length=500)],
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    """One click: the question becomes an ask of the chosen guide (a new published version)."""
    Auth.check_csrf(session, csrf)
    try:
        outcome = await asyncio.to_thread(editor.add_ask, code, text, author_id=session.staff.id)
    except GuideInvalid as exc:
        message = f"没有加入“{text.strip()[:60]}”：{code} 的新版本通不过检查"
        return await in_thread(
            _home, request, session, editor, reports, kb, settings, message=message, problems=exc.problems, status=422
        )
    done = f"已把“{text.strip()[:60]}”加入 {code} 的问法（第 {outcome.version} 版）"
    return RedirectResponse(SITE.editor(done=done, anchor="unanswered"), status_code=303)


# ---- JSON / YAML API


def _problems_json(problems: list[Problem]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(p) for p in problems]


def _invalid(exc: GuideInvalid) -> JSONResponse:
    body = {**error_body(422, exc.code, str(exc)), "problems": _problems_json(exc.problems)}
    return JSONResponse(body, status_code=422)


def _json_csrf(request: Request, session: StaffSession) -> None:
    Auth.check_csrf(session, request.headers.get("x-csrf-token", ""))


@router.get("/api/guides/{code}")
def api_read_guide(code: str, session: EditorSession, editor: Editor) -> Response:
    version = editor.current_version(code)
    return Response(
        editor.version_text(code, version),
        media_type="text/yaml; charset=utf-8",
        headers={"X-Guide-Version": str(version), "Cache-Control": "no-store"},
    )


@router.put("/api/guides/{code}")
async def api_write_guide(request: Request, code: str, session: EditorSession, editor: Editor) -> Response:
    """The body is the guide's YAML; ``X-Base-Version`` (optional) refuses to overwrite a newer version."""
    _json_csrf(request, session)
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the body must be UTF-8 YAML") from exc
    base_header = request.headers.get("x-base-version", "")
    base = int(base_header) if base_header.isdigit() else None
    note = request.query_params.get("note", "")[:MAX_NOTE_CHARS]
    try:
        outcome = await asyncio.to_thread(editor.publish, code, text, author_id=session.staff.id, note=note, base=base)
    except GuideInvalid as exc:
        return _invalid(exc)
    return JSONResponse(outcome.to_json())


@router.get("/api/guides/{code}/history")
def api_history(code: str, session: EditorSession, editor: Editor) -> dict[str, Any]:
    return {"code": code, "versions": [v.to_json() for v in editor.history(code)]}


@router.post("/api/guides/{code}/rollback/{version}")
async def api_rollback(request: Request, code: str, version: int, session: EditorSession, editor: Editor) -> Response:
    _json_csrf(request, session)
    try:
        outcome = await asyncio.to_thread(editor.rollback, code, version, author_id=session.staff.id)
    except GuideInvalid as exc:
        return _invalid(exc)
    return JSONResponse(outcome.to_json())


@router.get("/api/reports")
def api_reports(session: EditorSession, reports: ReportsDep) -> dict[str, list[dict[str, Any]]]:
    """The open reports (phones masked)."""
    return {"reports": [r.to_json() for r in reports.open()]}
