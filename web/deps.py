"""FastAPI dependencies: the heavy objects live on app.state (opened in lifespan); the resident's chat.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its thread
pool, a hop that costs more than these look-ups under load.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response

from knowledge.errors import NotFound
from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from web.channels.delivery import Notifier
from web.channels.wechat import WeChatService
from web.chat.owner import channel_owned, may_use, new_token, owner_key
from web.chat.rasa import RasaClient
from web.chat.turn import ChatService
from web.db.conversations import new_session_id
from web.db.store import Store
from web.db.tables import Conversation
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
    """The resident's session token from their cookie, when it is a well-formed one.

    The token is the resident's credential, not a conversation id (``web.chat.owner``).
    """
    value = request.cookies.get(SESSION_COOKIE, "")
    return value if value.isalnum() and 8 <= len(value) <= 64 else None


def with_session_cookie(response: Response, token: str) -> Response:
    response.set_cookie(SESSION_COOKIE, token, max_age=7 * 24 * 3600, httponly=True, samesite="lax")
    return response


@dataclass(frozen=True)
class WebChat:
    """The conversation a web request writes to, and the owner it must have."""

    session: str
    owner: str


def web_chat(request: Request, response: Response, store: Store, session: str | None) -> WebChat:
    """The chat a resident's message goes to; the cookie decides, not the body.

    * ``session`` given: it must be a chat this client owns (by its cookie, or, for an API
      client without cookies, by the id itself); a new id starts a chat owned by the cookie,
      or by that id when there is no cookie. Another's chat, or another channel's: NotFound.
    * no ``session``: the cookie's latest chat, or a new one (with a new cookie when there is none).
    """
    token = session_from_cookie(request)
    if session is not None:
        if channel_owned(session):
            raise NotFound(f"no conversation {session}")
        exists, owner = store.conversations.owner_of(session)
        if not exists:
            return WebChat(session, owner_key(token or session))
        if owner is not None and may_use(owner, _credentials(token, session)):
            return WebChat(session, owner)
        raise NotFound(f"no conversation {session}")
    if token is None:
        token = new_token()
        with_session_cookie(response, token)  # the page's plain form and a reload find the chat again
        return WebChat(new_session_id(), owner_key(token))
    owner = owner_key(token)
    return WebChat(store.conversations.latest_owned(owner) or new_session_id(), owner)


def owned_chat(request: Request, store: Store, session: str) -> Conversation:
    """A web chat this client owns; NotFound otherwise (the same answer as for an id that does not exist)."""
    conv = None if channel_owned(session) else store.conversations.maybe(session)
    if (
        conv is None
        or conv.channel != "web"
        or not may_use(conv.owner, _credentials(session_from_cookie(request), session))
    ):
        raise NotFound(f"no conversation {session}")
    return conv


def _credentials(token: str | None, session: str) -> list[str]:
    # The cookie; and the id itself, which is the credential of a chat an API client made without cookies.
    # A browser's chat is never owned by its id: its owner is the hash of a random token.
    return [token, session] if token else [session]
