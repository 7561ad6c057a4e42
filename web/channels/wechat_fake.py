"""A faithful local fake of the WeChat Official Account API endpoints menpai calls.

Built from the documentation (../shared/reference/gov-specs.md §1.5–1.6):

* ``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` →
  ``{"access_token", "expires_in": 7200}``; wrong credentials → errcode 40013/40125.
* ``POST /cgi-bin/message/custom/send?access_token=`` → ``{"errcode": 0, "errmsg": "ok"}``;
  an unknown or expired token → 40001 / 42001; a user outside the 48-hour window
  (or over 5 messages per inbound message) → 45015.
* ``POST /cgi-bin/qrcode/create?access_token=`` → ``{"ticket", "expire_seconds", "url"}``;
  scene_str 1–64 characters.
* ``GET /cgi-bin/media/get?access_token=&media_id=`` → the temporary media file itself (a resident's
  image: ``image/jpeg`` with ``Content-Disposition: attachment; filename="…"``); an unknown media_id
  → ``{"errcode": 40007, "errmsg": "invalid media_id"}``; temporary media expire after 3 days (same error).
  Tests put a file there with ``state.add_media(data)``, as if a resident had sent it.

Tests and the demo mode use it; it keeps what was sent so tests can look.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

WINDOW_SECONDS = 48 * 3600
PER_INBOUND_QUOTA = 5
MEDIA_SECONDS = 3 * 24 * 3600  # temporary media are kept by WeChat for three days


@dataclass
class FakeWeChatState:
    appid: str
    secret: str
    tokens: dict[str, float] = field(default_factory=dict)  # token → expiry (monotonic)
    token_calls: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    last_inbound: dict[str, float] = field(default_factory=dict)  # openid → time of last message from them
    quota_used: dict[str, int] = field(default_factory=dict)
    qrcodes: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, tuple[bytes, str, float]] = field(default_factory=dict)  # media_id → (data, type, expiry)
    media_calls: int = 0

    def add_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        """A file a resident sent (WeChat keeps it as temporary media); its MediaId."""
        media_id = secrets.token_urlsafe(48)[:64]
        self.media[media_id] = (data, content_type, time.monotonic() + MEDIA_SECONDS)
        return media_id

    def user_wrote(self, openid: str) -> None:
        """The resident sent a message: opens (or renews) the 48-hour window."""
        self.last_inbound[openid] = time.monotonic()
        self.quota_used[openid] = 0

    def close_window(self, openid: str) -> None:
        self.last_inbound[openid] = time.monotonic() - WINDOW_SECONDS - 1

    def expire_tokens(self) -> None:
        self.tokens = {t: 0.0 for t in self.tokens}


def create_fake_app(appid: str, secret: str) -> FastAPI:
    app = FastAPI(title="fake WeChat API")
    state = FakeWeChatState(appid, secret)
    app.state.fake = state

    def check_token(request: Request) -> dict[str, Any] | None:
        token = request.query_params.get("access_token", "")
        if token not in state.tokens:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        if state.tokens[token] < time.monotonic():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    @app.get("/cgi-bin/token")
    async def token(grant_type: str = "", appid: str = "", secret: str = "") -> dict[str, Any]:
        state.token_calls += 1
        if grant_type != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if appid != state.appid:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if secret != state.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        new = secrets.token_urlsafe(32)
        state.tokens[new] = time.monotonic() + 7200
        return {"access_token": new, "expires_in": 7200}

    @app.post("/cgi-bin/message/custom/send")
    async def custom_send(request: Request) -> dict[str, Any]:
        error = check_token(request)
        if error:
            return error
        body = await request.json()
        openid = body.get("touser", "")
        if body.get("msgtype") != "text" or not body.get("text", {}).get("content"):
            return {"errcode": 40008, "errmsg": "invalid message type"}
        opened = state.last_inbound.get(openid)
        if opened is None or time.monotonic() - opened > WINDOW_SECONDS:
            return {"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"}
        if state.quota_used.get(openid, 0) >= PER_INBOUND_QUOTA:
            return {"errcode": 45047, "errmsg": "out of response count limit"}
        state.quota_used[openid] = state.quota_used.get(openid, 0) + 1
        state.sent.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    @app.get("/cgi-bin/media/get")
    async def media_get(request: Request, media_id: str = "") -> Response:
        state.media_calls += 1
        error = check_token(request)
        if error:
            return JSONResponse(error)
        found = state.media.get(media_id)
        if found is None or found[2] < time.monotonic():
            return JSONResponse({"errcode": 40007, "errmsg": "invalid media_id"})
        data, kind, _ = found
        ext = {"image/jpeg": "jpg", "image/png": "png", "audio/amr": "amr"}.get(kind, "bin")
        return Response(
            data,
            media_type=kind,
            headers={"Content-Disposition": f'attachment; filename="{media_id[:16]}.{ext}"'},
        )

    @app.post("/cgi-bin/qrcode/create")
    async def qrcode_create(request: Request) -> dict[str, Any]:
        error = check_token(request)
        if error:
            return error
        body = await request.json()
        scene = (body.get("action_info") or {}).get("scene") or {}
        scene_str = scene.get("scene_str")
        if body.get("action_name") in ("QR_STR_SCENE", "QR_LIMIT_STR_SCENE") and not (
            isinstance(scene_str, str) and 1 <= len(scene_str) <= 64
        ):
            return {"errcode": 40097, "errmsg": "invalid args: scene_str must be 1-64 characters"}
        ticket = secrets.token_urlsafe(24)
        expire = None if body.get("action_name", "").startswith("QR_LIMIT") else int(body.get("expire_seconds", 60))
        state.qrcodes.append({**body, "ticket": ticket})
        out: dict[str, Any] = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket[:22]}"}
        if expire is not None:
            out["expire_seconds"] = min(expire, 2592000)
        return out

    return app
