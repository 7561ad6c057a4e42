"""FastAPI dependencies: the heavy objects live on app.state (opened in lifespan).

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its thread
pool, a hop that costs more than these look-ups under load.
"""

from __future__ import annotations

from fastapi import Request, Response

from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from web.chat.turn import ChatService
from web.db.store import Store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_chat(request: Request) -> ChatService:
    return request.app.state.chat


SESSION_COOKIE = "menpai_session"


def session_from_cookie(request: Request) -> str | None:
    """The resident's chat session from their cookie, when it is a well-formed one."""
    value = request.cookies.get(SESSION_COOKIE, "")
    return value if value.isalnum() and 8 <= len(value) <= 64 else None


def with_session_cookie(response: Response, session: str) -> Response:
    response.set_cookie(SESSION_COOKIE, session, max_age=7 * 24 * 3600, httponly=True, samesite="lax")
    return response
