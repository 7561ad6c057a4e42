"""HTTP hygiene on every response: security headers (CSP without inline script, no framing, nosniff,
referrer policy) and, in production only, HSTS and the Secure flag on every cookie."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere: templates load /static/*.js and *.css only (a test keeps it so).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000; includeSubDomains"
# FastAPI's /docs and /redoc pages load their scripts from a CDN and start them inline; they are
# off in production, and elsewhere they keep their own page without our CSP.
_DOCS = ("/docs", "/redoc")


def quiet_http_client_logs() -> None:
    """httpx logs every request URL at INFO, and WeChat's API takes its access_token in the URL:
    keep the HTTP client's loggers at WARNING so no token reaches a log."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


class SecurityHeaders:
    """Adds the headers to every HTTP response (pages, API, static files, errors, SSE).

    ``production``: HSTS, and every Set-Cookie gets ``Secure`` (the staff cookie, the resident's
    chat cookie and the text-size cookie alike). ``served_by``: this web copy's name, sent as
    ``X-Served-By`` (several copies behind one proxy; empty = no header).
    """

    def __init__(self, app: ASGIApp, *, production: bool, served_by: str = "") -> None:
        self.app = app
        self.production = production
        # Built once: this runs on every response.
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
        ]
        if production:
            common.append((b"strict-transport-security", HSTS.encode()))
        if served_by:
            common.append((b"x-served-by", served_by.encode()))
        self._docs_extra = common
        self._extra = [*common, (b"content-security-policy", CSP.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._docs_extra if str(scope.get("path", "")).startswith(_DOCS) else self._extra
        production = self.production

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                if production:
                    headers = [_secure_cookie(name, value) for name, value in headers]
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _secure_cookie(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    if name.lower() == b"set-cookie" and b"secure" not in value.lower().split(b"; "):
        return name, value + b"; Secure"
    return name, value
