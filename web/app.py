"""The web process: one composition root, nothing heavy at import.

``create_app(settings)`` wires the routes; the index, the embedding model and
the database open in ``lifespan`` and live on ``app.state``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from knowledge.errors import MenpaiError
from knowledge.hours import WorkingDays
from knowledge.service import KnowledgeBase
from knowledge.settings import Environment, Settings
from web import errors
from web.channels.delivery import Delivery, Notifier, PollGate
from web.channels.wechat import WeChatAPI, WeChatChannel, WeChatConfig, WeChatService
from web.channels.wechat_fake import create_fake_app
from web.chat.policy import HandoffPolicy
from web.chat.rasa import RasaClient
from web.chat.routing import Router
from web.chat.turn import ChatService
from web.db.changes import ChangeFeed
from web.db.engine import in_thread, make_engine
from web.db.store import Store
from web.helpdesk.auth import Auth
from web.helpdesk.canned import CannedReplies
from web.helpdesk.editor import GuideEditor, Reports
from web.helpdesk.rectification import Rectification
from web.helpdesk.retention import Retention
from web.helpdesk.roles import PERMISSIONS, Action
from web.helpdesk.taxonomy import load_taxonomy
from web.helpdesk.workorders import WebhookSender, WorkOrders
from web.ratelimit import RateLimiter, rates_from, trusted_proxies
from web.render.pages import Renderer
from web.routes import admin, api, desk, editor, pages, reports, staff, visits, wechat
from web.security import SecurityHeaders, quiet_http_client_logs
from web.static import HashedStatic

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
MAX_BODY_BYTES = 64 * 1024  # a chat message is at most 1000 characters; WeChat XML is small
UPLOAD_PATH = "/bang/precheck/upload"


def create_app(
    settings: Settings | None = None, *, kb: KnowledgeBase | None = None, wechat_fake: FastAPI | None = None
) -> FastAPI:
    """Build the FastAPI app for these settings (tests pass their own).

    ``wechat_fake``: with ``MENPAI_WECHAT_API_BASE=fake``, the local fake WeChat API to talk to
    (default: a new one). A test passes one to outlive a restart of the app, as WeChat does.
    """
    settings = settings or Settings()
    quiet_http_client_logs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.kb = kb or KnowledgeBase.open(settings)
        state.notifier = Notifier()
        state.notifier.bind(asyncio.get_running_loop())
        engine = make_engine(
            settings.db_url,
            connect_timeout=settings.db_connect_timeout,
            statement_timeout=settings.db_statement_timeout,
        )
        # Changes wake this copy's long polls at once, and (PostgreSQL) every other copy's by NOTIFY.
        state.changes = ChangeFeed(engine, state.notifier.notify)

        def changed(conv_id: str) -> None:
            state.notifier.notify(conv_id)
            state.changes.publish(conv_id)

        state.store = Store(
            engine,
            on_change=changed,
            uploads=settings.var_path / "uploads",
            upload_retention_days=settings.upload_retention_days,
        )
        await in_thread(state.store.migrate)
        state.changes.start()
        state.rasa = RasaClient(settings.rasa_url, settings.rasa_timeout)
        state.auth = Auth(settings, state.store)
        state.delivery = Delivery(state.store)
        state.router = Router(
            state.store,
            PERMISSIONS[Action.CHATS],
            default_limit=settings.agent_max_chats,
            offer_seconds=settings.first_response_seconds,
        )
        state.router_task = asyncio.create_task(state.router.run_forever())
        # One working-day calendar (the city's holidays, guides/halls.yaml) for both deadline clocks.
        calendar = WorkingDays.of(state.kb.library.holidays)
        state.rectification = Rectification(state.store, calendar, settings.rating_followup_days)
        state.canned = CannedReplies(state.store, state.kb)
        state.chat = ChatService(
            state.kb,
            state.store,
            state.rasa,
            rasa_required=settings.rasa_required,
            base_url=settings.public_base_url,
            policy=HandoffPolicy(settings.staff_hours, video_help_url=settings.video_help_url),
            router=state.router,
            max_messages=settings.chat_max_messages,
        )
        state.wechat = _wechat(settings, state, wechat_fake)
        tasks: list[asyncio.Task[None]] = []
        if state.wechat is not None:
            # Texts a restart or an outage left in the outbox go out now, then every few seconds.
            tasks.append(asyncio.create_task(state.wechat.channel.run_forever()))
        state.workorders = WorkOrders(
            state.store, settings.secret(), taxonomy=load_taxonomy(settings.workorder_taxonomy_path), calendar=calendar
        )
        # Published guide versions override the files; newer ones from other copies arrive by polling.
        state.editor = GuideEditor(state.store, state.kb.library, on_change=app.state.page_cache.clear)
        await in_thread(state.editor.refresh)
        state.editor_task = asyncio.create_task(state.editor.run_forever(settings.guide_refresh_seconds))
        state.analytics_task = asyncio.create_task(state.store.analytics.run_flusher())
        state.reports = Reports(state.store, settings.secret())
        state.webhook = None
        if settings.hotline_webhook_url:
            secret = settings.hotline_webhook_secret.get_secret_value() if settings.hotline_webhook_secret else ""
            state.webhook = WebhookSender(
                state.store, settings.hotline_webhook_url, secret, max_attempts=settings.hotline_webhook_max_attempts
            )
            state.webhook_task = asyncio.create_task(state.webhook.run_forever())
        state.retention = Retention(state.store, settings)
        if state.wechat is not None:
            state.wechat.forget = state.retention.forget
        tasks.append(asyncio.create_task(state.retention.run_forever(settings.purge_interval_minutes * 60)))
        state.polls = PollGate(settings.max_long_polls)
        logger.info("menpai web ready: %s", state.kb.index.describe())
        # The index, models and libraries loaded above live as long as the process: keep them
        # out of the GC's full collections, which otherwise walk all of them and stall requests.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            state.editor_task.cancel()
            state.router_task.cancel()
            state.analytics_task.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.to_thread(state.store.analytics.flush)  # queued page views are not lost
            if state.webhook is not None:
                state.webhook_task.cancel()
            await state.rasa.aclose()
            await asyncio.to_thread(state.changes.stop)
            state.store.engine.dispose()

    production = settings.environment is Environment.PRODUCTION
    app = FastAPI(
        title="数字政务门牌 menpai",
        version="0.1.0",
        lifespan=lifespan,
        # /openapi.json stays (it is the contract); the interactive pages are for development.
        docs_url=None if production else "/docs",
        redoc_url=None if production else "/redoc",
        description="Door-plate pages, guides, and the chat API of the 数字政务门牌 assistant (sample data).",
    )
    app.state.settings = settings
    static = HashedStatic(STATIC_DIR)
    app.state.static = static
    app.state.renderer = Renderer(settings, static)
    app.state.page_cache = pages.PageCache()
    app.state.limiter = RateLimiter(rates_from(settings))
    app.state.trusted_proxies = trusted_proxies(settings.trusted_proxies)
    app.mount("/static", static.app(), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(visits.router)
    app.include_router(staff.router)
    app.include_router(desk.router)
    app.include_router(editor.router)
    app.include_router(reports.router)
    app.include_router(wechat.router)
    app.include_router(admin.router)
    # Photo uploads (在线预审) may be larger; every other body keeps the small limit.
    app.add_middleware(
        errors.BodyLimit, max_bytes=MAX_BODY_BYTES, larger={UPLOAD_PATH: settings.upload_max_bytes + 64 * 1024}
    )
    # Phones on slow links: pages, CSS and JS go gzipped (SSE streams and pre-compressed pages pass through).
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)
    app.add_middleware(errors.CatchAll)  # an unhandled exception: logged, and the one error shape
    # Before routing: a cached plate page for a visitor without a cookie (nearly every scan).
    app.add_middleware(pages.PlateFastPath)
    # Outermost: on every response, errors too.
    app.add_middleware(SecurityHeaders, production=production, served_by=settings.instance_name)
    app.add_exception_handler(MenpaiError, errors.menpai_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, errors.http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, errors.validation_error)  # type: ignore[arg-type]
    return app


def _wechat(settings: Settings, state: Any, fake: FastAPI | None = None) -> WeChatService | None:
    """The WeChat channel when configured; 'fake' API base = the built-in local fake."""
    if settings.wechat_token is None or not settings.wechat_appid:
        return None
    secret = settings.wechat_secret.get_secret_value() if settings.wechat_secret else ""
    config = WeChatConfig(
        token=settings.wechat_token.get_secret_value(),
        appid=settings.wechat_appid,
        secret=secret,
        aes_key=settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else "",
        api_base=settings.wechat_api_base,
        passive_seconds=settings.wechat_passive_seconds,
        max_skew_seconds=settings.wechat_max_skew_seconds,
        max_photo_bytes=settings.upload_max_bytes,
    )
    client = None
    if settings.wechat_api_base == "fake":
        state.wechat_fake = fake or create_fake_app(settings.wechat_appid, secret)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=state.wechat_fake), timeout=5.0)
        config.api_base = "http://fake-wechat"
    api = WeChatAPI(config, client)
    channel = WeChatChannel(api, state.store)
    state.delivery.register("wechat", channel)
    return WeChatService(config, state.kb, state.store, state.chat, channel)
