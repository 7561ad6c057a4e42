"""Pages for people: door plate, guide, search, verify. Views do the I/O; templates display."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from knowledge.answer import Answer, build_answer
from knowledge.errors import BadRequest, NotFound
from knowledge.halls import NearbyHall, hours_text, nearest_halls
from knowledge.library import Library
from knowledge.schema import Guide, HallLevel, Plate, plate_code
from knowledge.service import KnowledgeBase
from web.api_models import MOVED, PAGE_ERRORS, REDIRECT
from web.chat.owner import new_token, owner_key
from web.chat.turn import MAX_MESSAGE_CHARS, ChatService
from web.db.engine import in_thread
from web.db.store import Store
from web.db.tables import AgencyKind
from web.deps import get_chat, get_kb, get_store, session_from_cookie, web_chat, with_session_cookie
from web.helpdesk import precheck
from web.helpdesk.agency import AgencyIn, request_agency
from web.helpdesk.analytics import POPULAR
from web.plates import qr_svg
from web.ratelimit import Limit, Throttle, get_throttle, limited
from web.render.flow import Flow, flow_of
from web.render.html import render_html
from web.render.pages import TEXT_COOKIE, Renderer
from web.render.plain import carry_text
from web.render.sentences import AGENCY_KINDS, AGENCY_STATUS, SAY
from web.urls import SITE, Urls

router = APIRouter(responses=PAGE_ERRORS)


@dataclass
class GuideLink:
    code: str
    title: str
    dept: str
    fully_online: bool = False
    most_trips: int | None = None


@dataclass
class HallView:
    near: NearbyHall
    hours: str


@dataclass
class ChatLine:
    role: str
    kind: str
    text: str
    html: str = ""
    choices: list[dict[str, str]] = field(default_factory=list)
    choice_kind: str = ""
    item: str = ""


@dataclass
class PlatePage:
    plate: Plate
    centres: list[HallView]
    stations: list[HallView]
    nearby_items: list[GuideLink]
    online_items: list[GuideLink]
    citywide_items: list[GuideLink]
    popular: list[GuideLink]
    session: str
    chat: list[ChatLine]
    mode: str
    earlier: str = ""  # a long conversation: how many earlier messages the page leaves out


def _link(g: Guide) -> GuideLink:
    return GuideLink(g.code, g.title, g.dept, g.online.fully_online, g.most_trips())


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


def _plate_or_404(kb: KnowledgeBase, code: str) -> Plate:
    plate = kb.library.plates.get(plate_code(code))
    if plate is None:
        raise NotFound(f"门牌编号 {code} 不存在")
    return plate


TRANSCRIPT_RECENT = 40  # messages of a long conversation the plate page renders (the latest)


def _transcript(store: Store, session: str, kb: KnowledgeBase) -> tuple[list[ChatLine], str, int]:
    """The recent part of the conversation, read only (a page view never creates one), and how many came before."""
    conv = store.conversations.maybe(session)
    if conv is None:
        return [], "bot", 0
    lines = []
    recent, earlier = store.conversations.recent(session, TRANSCRIPT_RECENT)
    for m in recent:
        if m.role.value == "note":
            continue
        payload = m.payload or {}
        html = ""
        if m.kind == "answer" and payload.get("item") in kb.library.guides:
            html = render_html(kb.answer(payload["item"], payload.get("situation")))
        lines.append(
            ChatLine(
                m.role.value,
                m.kind,
                m.text,
                html,
                payload.get("options") or [],
                str(payload.get("choice_kind") or ""),
                str(payload.get("item") or ""),
            )
        )
    return lines, conv.mode.value, earlier


def plate_page(
    kb: KnowledgeBase, store: Store | None, plate: Plate, session: str, now: dt.datetime | None = None
) -> PlatePage:
    """The plate page's context; ``store=None`` for a visitor known to have no conversation."""
    lib = kb.library
    now = now or kb.clock.now()
    centres = [
        n
        for n in nearest_halls(
            [h for h in lib.halls.values() if h.level is not HallLevel.VILLAGE],
            plate.lng,
            plate.lat,
            now,
            lib.holidays,
            limit=2,
        )
    ]
    stations = nearest_halls(
        [h for h in lib.halls.values() if h.level is HallLevel.VILLAGE],
        plate.lng,
        plate.lat,
        now,
        lib.holidays,
        limit=2,
    )
    near_codes: set[str] = set()
    for n in [*centres, *stations]:
        if n.hall.level is not HallLevel.CITY:
            near_codes.update(n.hall.items)
    guides = sorted(lib.guides.values(), key=lambda g: g.code)
    chat, mode, earlier = _transcript(store, session, kb) if store is not None else ([], "bot", 0)
    return PlatePage(
        plate=plate,
        centres=[HallView(n, hours_text(n.hall)) for n in centres],
        stations=[HallView(n, hours_text(n.hall)) for n in stations],
        nearby_items=[_link(g) for g in guides if g.code in near_codes and not g.bundle],
        online_items=[
            _link(g)
            for g in guides
            if g.online.fully_online or any(c.kind.value in ("mobile", "miniprogram") for c in g.online.channels)
        ],
        citywide_items=[_link(g) for g in guides if g.where.citywide],
        popular=[_link(lib.guides[c]) for c in POPULAR if c in lib.guides],
        session=session,
        chat=chat,
        mode=mode,
        earlier=SAY["transcript_earlier"].format(count=earlier) if earlier else "",
    )


@dataclass(frozen=True)
class CachedPage:
    """A rendered page, its gzip form (compressed once) and its ETag."""

    body: bytes
    gzipped: bytes
    etag: str

    def response(self, accept_encoding: str, if_none_match: str = "") -> Response:
        """The page for this request: 304 when the browser holds these bytes, gzipped when it takes gzip."""
        headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding", "ETag": self.etag}
        if if_none_match and self.etag in if_none_match:
            return Response(status_code=304, headers=headers)
        if "gzip" in accept_encoding.lower():
            headers["Content-Encoding"] = "gzip"
            return Response(self.gzipped, media_type="text/html; charset=utf-8", headers=headers)
        return Response(self.body, media_type="text/html; charset=utf-8", headers=headers)


class PageCache:
    """Rendered plate pages for visitors without a conversation, per (plate, text size, minute).

    Halls' open / closing-soon state changes at most once a minute, so the page rendered
    in a minute is the page for everyone in that minute. Bounded: the oldest go first.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._pages: OrderedDict[tuple[str, bool, int], CachedPage] = OrderedDict()

    @staticmethod
    def key(plate: str, big_text: bool, now: dt.datetime) -> tuple[str, bool, int]:
        # The minute since the epoch: China time is a whole number of hours from UTC, so this is
        # the local minute too, without formatting a date on every request.
        return (plate, big_text, int(now.timestamp()) // 60)

    def get(self, key: tuple[str, bool, int]) -> CachedPage | None:
        return self._pages.get(key)

    def clear(self) -> None:
        """Forget every page (a guide was published); safe to call from another thread."""
        self._pages = OrderedDict()

    def put(self, key: tuple[str, bool, int], html: str) -> CachedPage:
        body = html.encode("utf-8")
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        page = CachedPage(body, gzip.compress(body, compresslevel=9, mtime=0), etag)
        self._pages[key] = page
        while len(self._pages) > self.max_entries:
            self._pages.popitem(last=False)
        return page


def _record_scan(store: Store, p: Plate) -> None:
    store.analytics.record_later("scan", plate=p.code, town=p.town)  # off the request path


class PlateFastPath:
    """The plate page of a visitor without a session cookie, from the page cache, before routing.

    Nearly every scan is such a visit, and the page is the same for everyone in a minute:
    this ASGI layer answers it from ``PageCache`` without FastAPI's routing, dependencies and
    inner middleware (the security headers still wrap it). Anything else — a cookie, a page not
    cached yet, a code to canonicalise — goes on to the ``plate`` route, which renders and caches.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/p/"):
            response = self._cached(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _cached(scope: Scope) -> Response | None:
        state = scope["app"].state
        kb: KnowledgeBase | None = getattr(state, "kb", None)
        p = kb.library.plates.get(scope["path"][3:]) if kb is not None else None
        if p is None:
            return None
        request = Request(scope)
        if session_from_cookie(request) is not None:
            return None  # may have a conversation: the route looks
        cache: PageCache = state.page_cache
        cached = cache.get(PageCache.key(p.code, Renderer.big_text(request), kb.clock.now()))  # type: ignore[union-attr]
        if cached is None:
            return None
        _record_scan(state.store, p)
        headers = request.headers
        response = cached.response(headers.get("accept-encoding", ""), headers.get("if-none-match", ""))
        return with_session_cookie(response, new_token())


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, kb: Annotated[KnowledgeBase, Depends(get_kb)]) -> Response:
    by_dept: dict[str, list[GuideLink]] = {}
    for g in sorted(kb.library.guides.values(), key=lambda g: (g.bundle, g.dept, g.code)):
        by_dept.setdefault("一件事" if g.bundle else g.dept, []).append(_link(g))
    popular = [_link(kb.library.guides[c]) for c in POPULAR if c in kb.library.guides]
    return _renderer(request).page(request, "home.html", {"by_dept": by_dept, "popular": popular})


@router.get("/p/{code}", response_class=HTMLResponse, responses=MOVED)
async def plate(
    request: Request,
    code: str,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    store: Annotated[Store, Depends(get_store)],
) -> Response:
    p = kb.library.plates.get(plate_code(code))
    if p is None:
        return _renderer(request).page(request, "plate_unknown.html", {"code": code[:32]}, status=404)
    if p.code != code:
        return RedirectResponse(SITE.plate(p.code), status_code=301)
    known = session_from_cookie(request)
    token = known or new_token()
    _record_scan(store, p)
    renderer = _renderer(request)
    session = await in_thread(store.conversations.latest_owned, owner_key(known)) if known is not None else None
    if session is not None:
        page = await in_thread(plate_page, kb, store, p, session)
        return with_session_cookie(renderer.page(request, "plate.html", {"page": page}), token)
    # A scan without a conversation (nearly all of them): the same page for everyone this
    # minute, without the session in it (the widget learns it from its first chat reply).
    # Once cached, PlateFastPath serves it to visitors without a cookie before routing.
    now = kb.clock.now()
    key = PageCache.key(p.code, renderer.big_text(request), now)
    cache: PageCache = request.app.state.page_cache
    cached = cache.get(key)
    if cached is None:
        html = renderer.render_page(request, "plate.html", {"page": plate_page(kb, None, p, "", now)})
        cached = cache.put(key, html)
    headers = request.headers
    response = cached.response(headers.get("accept-encoding", ""), headers.get("if-none-match", ""))
    return with_session_cookie(response, token)


@router.post("/p/{code}/chat", response_class=HTMLResponse, responses=REDIRECT)
async def plate_chat(
    request: Request,
    code: str,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    store: Annotated[Store, Depends(get_store)],
    chat: Annotated[ChatService, Depends(get_chat)],
    throttle: Annotated[Throttle, Depends(get_throttle)],
    text: Annotated[str, Form(max_length=MAX_MESSAGE_CHARS)] = "",
    choice_kind: Annotated[str, Form(max_length=16)] = "",
    choice_value: Annotated[str, Form(max_length=64)] = "",
    choice_item: Annotated[str, Form(max_length=64)] = "",
    choice_label: Annotated[str, Form(max_length=200)] = "",
    human: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """The chat without JavaScript: a plain form post that re-renders the page."""
    p = _plate_or_404(kb, code)
    response = RedirectResponse(SITE.plate(p.code, "chat"), status_code=303)
    target = await in_thread(web_chat, request, response, store, None)  # the cookie's chat (or a new cookie)
    choice = None
    if choice_kind in ("situation", "item") and choice_value:
        choice = {"kind": choice_kind, "value": choice_value, "item": choice_item, "label": choice_label}
    if human or text.strip() or choice:
        throttle.check(Limit.CHAT_PER_IP, Limit.CHAT_PER_SESSION, session=target.session)
        await chat.turn(
            target.session, "" if human else text, plate=p.code, choice=choice, human=bool(human), owner=target.owner
        )
    token = session_from_cookie(request)
    return with_session_cookie(response, token) if token else response


@dataclass
class GuidePage:
    guide: Guide
    answer: Answer
    answer_html: str
    plate: Plate | None
    halls: list[HallView]
    prerequisites: list[GuideLink]
    follow_ups: list[GuideLink]
    members: list[GuideLink]
    part_of: list[GuideLink]
    flow: Flow


def guide_page(
    lib: Library, code: str, now: dt.datetime, situation: str | None = None, plate: str | None = None
) -> GuidePage:
    """The guide page's context, from a library (the live one, or an editor's preview of unsaved text)."""
    g = lib.guides.get(code)
    if g is None:
        raise NotFound(f"没有编号为 {code} 的办事攻略")
    p = lib.plates.get(plate_code(plate))
    lng, lat = (p.lng, p.lat) if p else (None, None)
    chosen = situation if situation in [x.id for x in g.situations] else None
    answer = build_answer(lib, code, chosen, lng=lng, lat=lat, now=now)
    if p is None:
        centre = [h for h in lib.halls.values() if h.level is HallLevel.CITY and code in h.items]
        halls = (
            [
                HallView(n, hours_text(n.hall))
                for n in nearest_halls(centre, centre[0].lng, centre[0].lat, now, lib.holidays, limit=1)
            ]
            if centre
            else []
        )
    else:
        halls = [
            HallView(n, hours_text(n.hall))
            for n in nearest_halls(lib.halls.values(), p.lng, p.lat, now, lib.holidays, item=code, limit=3)
        ]
    return GuidePage(
        guide=g,
        answer=answer,
        answer_html=render_html(answer),
        plate=p,
        halls=halls,
        prerequisites=[_link(lib.guides[c]) for c in g.prerequisites if c in lib.guides],
        follow_ups=[_link(lib.guides[c]) for c in g.follow_ups if c in lib.guides],
        members=[_link(lib.guides[c]) for c in g.members if c in lib.guides],
        part_of=[_link(b) for b in lib.guides.values() if code in b.members],
        flow=flow_of(g),
    )


@router.get("/g/{code}", response_class=HTMLResponse)
async def guide(
    request: Request,
    code: str,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    s: Annotated[str | None, Query(max_length=64)] = None,
    plate: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    page = guide_page(kb.library, code, kb.clock.now(), s, plate)
    return _renderer(request).page(request, "guide.html", {"page": page})


@dataclass
class TakeAlong:
    """The checklist to take along (print view and 发到手机): the answer, the nearest hall, a way back."""

    guide: Guide
    answer: Answer
    plate: Plate | None
    hall: HallView | None
    guide_url: str  # absolute: what the QR code and the text point at
    qr: str  # inline SVG
    text: str  # the short text for the phone


def take_along(kb: KnowledgeBase, base_url: str, code: str, situation: str | None, plate: str | None) -> TakeAlong:
    """The take-along context for a guide (and situation), with the hall nearest the plate that handles it."""
    page = guide_page(kb.library, code, kb.clock.now(), situation, plate)
    url = Urls(base_url).absolute(SITE.guide(code, situation=page.answer.situation))
    hall = page.halls[0] if page.halls else None
    text = carry_text(
        page.answer,
        url,
        f"{hall.near.hall.name}，{hall.near.hall.address}" if hall else "",
        hall.hours if hall else "",
    )
    return TakeAlong(page.guide, page.answer, page.plate, hall, url, qr_svg(url), text)


@router.get("/g/{code}/print", response_class=HTMLResponse)
async def guide_print(
    request: Request,
    code: str,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    store: Annotated[Store, Depends(get_store)],
    s: Annotated[str | None, Query(max_length=64)] = None,
    plate: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The checklist on one A4 page: materials to tick, fee, the nearest hall with hours, a QR back to the guide."""
    sheet = take_along(kb, request.app.state.settings.public_base_url, code, s, plate)
    store.analytics.record_later("print", plate=sheet.plate.code if sheet.plate else None, item=code)
    return _renderer(request).page(request, "print.html", {"sheet": sheet})


@router.get("/g/{code}/share", response_class=HTMLResponse)
async def guide_share(
    request: Request,
    code: str,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    store: Annotated[Store, Depends(get_store)],
    s: Annotated[str | None, Query(max_length=64)] = None,
    plate: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """发到手机: the checklist as a short text to copy or share (long-press works without JavaScript)."""
    sheet = take_along(kb, request.app.state.settings.public_base_url, code, s, plate)
    store.analytics.record_later("share", plate=sheet.plate.code if sheet.plate else None, item=code)
    return _renderer(request).page(request, "share.html", {"sheet": sheet})


@router.get("/search", response_class=HTMLResponse)
async def search(
    request: Request,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    store: Annotated[Store, Depends(get_store)],
    q: Annotated[str, Query(max_length=MAX_MESSAGE_CHARS)] = "",
    plate: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    q = q.strip()
    context: dict[str, Any] = {"q": q, "plate": plate, "result": None, "answer_html": "", "candidates": []}
    if q:
        p = kb.library.plates.get(plate_code(plate))
        result = await asyncio.to_thread(kb.ask, q, plate=p.code if p else None)
        item = result.answer.item if result.answer else None
        await in_thread(store.analytics.record, "question", plate=p.code if p else None, detail=q, item=item)
        if result.answer is None:
            await in_thread(store.analytics.record, "unanswered", plate=p.code if p else None, detail=q)
        context["result"] = result
        context["answer_html"] = render_html(result.answer) if result.answer else ""
        context["candidates"] = [_link(kb.library.guides[c.item]) for c in result.retrieval.candidates]
    return _renderer(request).page(request, "search.html", context)


@router.get("/verify", response_class=HTMLResponse)
async def verify(
    request: Request, kb: Annotated[KnowledgeBase, Depends(get_kb)], code: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    """Residents fear fake QR codes: check that a plate code is one the county issued."""
    code = plate_code(code)
    plate_found = kb.library.plates.get(code) if code else None
    return _renderer(request).page(request, "verify.html", {"code": code, "plate": plate_found})


@router.get("/bang", response_class=HTMLResponse)
def agency_form(
    request: Request,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    plate: Annotated[str | None, Query(max_length=16)] = None,
    item: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[AgencyKind, Query()] = AgencyKind.AGENCY,
    s: Annotated[str | None, Query(max_length=48)] = None,
) -> Response:
    """帮办代办, 上门办 (from a door plate) or 在线预审: ask for someone to do it for you, come to you, or check first."""
    guides = sorted(kb.library.guides.values(), key=lambda g: g.code)
    p = kb.library.plates.get(plate_code(plate))
    context = {"guides": guides, "plate": p, "item": item, "kind": kind.value, "situation": s or "", "error": ""}
    return _renderer(request).page(request, "agency.html", {**context, "done": None})


@router.post("/bang", response_class=HTMLResponse, dependencies=[limited(Limit.AGENCY_PER_IP)])
def agency_submit(
    request: Request,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    store: Annotated[Store, Depends(get_store)],
    item: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=64)],
    phone: Annotated[str, Form(max_length=20)],
    preferred_time: Annotated[str, Form(max_length=64)],
    plate: Annotated[str, Form(max_length=16)] = "",
    address: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=16)] = "agency",
    situation: Annotated[str, Form(max_length=48)] = "",
) -> Response:
    guides = sorted(kb.library.guides.values(), key=lambda g: g.code)
    p = kb.library.plates.get(plate_code(plate))
    context = {"guides": guides, "plate": p, "item": item, "kind": kind, "situation": situation}
    try:
        body = AgencyIn(
            item=item,
            name=name,
            phone=phone.strip(),
            preferred_time=preferred_time,
            plate=p.code if p else None,
            address=address,
            kind=AgencyKind(kind) if kind in {k.value for k in AgencyKind} else AgencyKind.AGENCY,
            situation=situation or None,
        )
        done = request_agency(store, kb.library, body)
    except (ValueError, BadRequest) as exc:
        message = "请检查：手机号要11位，事项要选一项，地址或门牌要有。" if isinstance(exc, ValueError) else str(exc)
        return _renderer(request).page(request, "agency.html", {**context, "error": message, "done": None}, status=400)
    return _renderer(request).page(request, "agency.html", {**context, "error": "", "done": done})


@router.get("/bang/status", response_class=HTMLResponse, dependencies=[limited(Limit.AGENCY_STATUS_PER_IP)])
def agency_status_page(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    code: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    req = None
    if code:
        try:
            req = store.agency.by_code(code)
        except NotFound:
            req = None
    pc = precheck.view(store, kb, req.code) if req is not None and req.kind == AgencyKind.PRECHECK.value else None
    context = {"code": code, "req": req, "pc": pc, "kinds": AGENCY_KINDS, "statuses": AGENCY_STATUS}
    return _renderer(request).page(request, "agency_status.html", context)


@router.get("/text-size", include_in_schema=False)
async def text_size(
    size: Annotated[str, Query(pattern="^(large|normal)$")] = "large",
    next: Annotated[str, Query(max_length=300)] = "/",
) -> Response:
    """The larger-text toggle: a cookie, so it works without JavaScript and sticks."""
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(TEXT_COOKIE, size, max_age=365 * 24 * 3600, httponly=True, samesite="lax")
    return response
