"""One error policy: domain exceptions → an HTML page for people, one JSON shape for the API.

JSON shape, pinned by tests: {"error": {"code": str, "message": str, "status": int}}
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowledge.errors import ContentError, MenpaiError
from web.urls import SITE

logger = logging.getLogger(__name__)

_JSON_PREFIXES = ("/api/", "/healthz", "/wechat", "/openapi", "/staff/api/")
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "没有找到这个页面",
    413: "内容太长了",
    422: "填写的内容有误",
    429: "提交太频繁了",
    500: "系统出了点问题",
    503: "系统正忙",
}


class RateLimited(MenpaiError):
    """Too many requests from one client; the response says when to try again (Retry-After)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


def error_body(status: int, code: str, message: str) -> dict[str, dict[str, str | int]]:
    """The one JSON error shape."""
    return {"error": {"code": code, "message": message, "status": status}}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(_JSON_PREFIXES) or "application/json" in request.headers.get("accept", "")


def error_response(request: Request, status: int, code: str, message: str) -> Response:
    if wants_json(request):
        return JSONResponse(error_body(status, code, message), status_code=status)
    renderer = request.app.state.renderer
    return renderer.page(
        request,
        "error.html",
        {"status": status, "title": _TITLES.get(status, "出错了"), "message": message},
        status=status,
    )


async def menpai_error(request: Request, exc: MenpaiError) -> Response:
    if exc.code == "login_required" and not wants_json(request):
        return RedirectResponse(SITE.staff_login(request.url.path), status_code=303)
    if isinstance(exc, ContentError):
        logger.error("content problems: %s", "; ".join(str(p) for p in exc.problems[:5]))
    elif exc.status >= 500:
        logger.error("%s: %s", exc.code, exc)
    response = error_response(request, exc.status, exc.code, str(exc))
    if isinstance(exc, RateLimited | TooBusy):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = _CODES.get(exc.status_code, "error")
    response = error_response(request, exc.status_code, code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value  # e.g. Allow on a 405 (RFC 9110)
    return response


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
    return error_response(request, 422, "invalid_request", message)


class BodyLimit:
    """Refuse request bodies over a limit before reading them (a 1 MB message gets a 413)."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # exact paths that take a larger body (photo uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope.get("path", ""), self.max_bytes)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = length is not None and length.isdigit() and int(length) > max_bytes
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _TooLarge
            return message

        request = Request(scope)
        message = f"request body over {max_bytes // 1024} KB"
        if too_big:
            response = error_response(request, 413, "too_large", message)
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            response = error_response(request, 413, "too_large", message)
            await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class TooBusy(MenpaiError):
    """More held requests than this copy takes (e.g. long polls); try again after Retry-After."""

    status = 503
    code = "busy"

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def database_unavailable(exc: BaseException) -> bool:
    """The database is down, unreachable or too slow (a statement or pool timeout), not a bug of ours."""
    if isinstance(exc, PoolTimeout | OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class CatchAll:
    """The last word on an exception nobody handled: logged with its stack, answered in the one
    error shape (JSON for the API, the error page for people) — 503 when the database is down or
    stalled past its timeout, 500 otherwise. Placed inside the security headers, so errors carry them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            request = Request(scope)
            if database_unavailable(exc):
                logger.error("%s %s: database unavailable: %s", request.method, request.url.path, exc)
                status, code, message = 503, "database_unavailable", "数据库暂时不可用，请稍后再试"
            else:
                logger.exception("%s %s failed", request.method, request.url.path)
                status, code, message = 500, "internal_error", "系统出了点问题，请稍后再试"
            if started:  # too late for an error response: the client sees the connection end
                raise
            response = error_response(request, status, code, message)
            if status == 503:
                response.headers["Retry-After"] = "5"
            await response(scope, receive, send)
