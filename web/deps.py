"""FastAPI dependencies: the heavy objects live on app.state (opened in lifespan).

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its thread
pool, a hop that costs more than these look-ups under load.
"""

from __future__ import annotations

from fastapi import Request, Response

from knowledge.errors import NotFound
from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from web.channels.delivery import Notifier
from web.channels.wechat import WeChatService
from web.chat.rasa import RasaClient
from web.chat.turn import ChatService
from web.db.store import Store
from web.render.pages import Renderer


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_chat(request: Request) -> ChatService:
    return request.app.state.chat


async def get_rasa(request: Request) -> RasaClient:
    return request.app.state.rasa


async def get_notifier(request: Request) -> Notifier:
    return request.app.state.notifier


async def get_renderer(request: Request) -> Renderer:
    return request.app.state.renderer


async def get_wechat(request: Request) -> WeChatService:
    service: WeChatService | None = getattr(request.app.state, "wechat", None)
    if service is None:
        raise NotFound("the WeChat channel is not configured (MENPAI_WECHAT_TOKEN)")
    return service


SESSION_COOKIE = "menpai_session"


def session_from_cookie(request: Request) -> str | None:
    """The resident's chat session from their cookie, when it is a well-formed one."""
    value = request.cookies.get(SESSION_COOKIE, "")
    return value if value.isalnum() and 8 <= len(value) <= 64 else None


def with_session_cookie(response: Response, session: str) -> Response:
    response.set_cookie(SESSION_COOKIE, session, max_age=7 * 24 * 3600, httponly=True, samesite="lax")
    return response
