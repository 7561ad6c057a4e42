"""Before the trip: appointments (预约 /yuyue) and online pre-checks (在线预审 /bang/precheck). HTTP only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from knowledge.errors import BadRequest, MenpaiError, NotFound
from knowledge.schema import plate_code
from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from web.api_models import PAGE_ERRORS
from web.db.appointments import SlotFull
from web.db.codes import normalize_code
from web.db.engine import in_thread
from web.db.store import Store
from web.deps import get_kb, get_settings, get_store
from web.helpdesk import appointments, precheck
from web.helpdesk.appointments import AppointmentIn
from web.privacy import mask_name, mask_pii
from web.ratelimit import Limit, limited
from web.render.pages import Renderer
from web.urls import SITE

router = APIRouter(responses=PAGE_ERRORS)

Kb = Annotated[KnowledgeBase, Depends(get_kb)]
StoreDep = Annotated[Store, Depends(get_store)]


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


def _booking_page(
    request: Request, kb: KnowledgeBase, store: Store, item: str, plate: str | None, error: str = "", status: int = 200
) -> Response:
    if item not in kb.library.guides:
        raise NotFound(f"没有编号为 {item} 的办事攻略")
    offers = appointments.offers(kb.library, store, item, kb.clock.now(), plate)
    p = kb.library.plates.get(plate_code(plate))
    context = {"guide": kb.library.guides[item], "offers": offers, "plate": p, "error": error}
    return _renderer(request).page(request, "appointment.html", context, status=status)


@router.get("/yuyue", response_class=HTMLResponse)
def appointment_form(
    request: Request,
    kb: Kb,
    store: StoreDep,
    item: Annotated[str, Query(max_length=64)],
    plate: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """预约: the halls (nearest the plate) that take appointments for the item, with their free half-hours."""
    return _booking_page(request, kb, store, item, plate)


@router.post("/yuyue", response_class=HTMLResponse, dependencies=[limited(Limit.BOOKING_PER_IP)])
def appointment_book(
    request: Request,
    kb: Kb,
    store: StoreDep,
    item: Annotated[str, Form(max_length=64)],
    hall: Annotated[str, Form(max_length=48)],
    name: Annotated[str, Form(max_length=64)],
    phone: Annotated[str, Form(max_length=20)],
    slot: Annotated[str, Form(max_length=16)] = "",
    plate: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    p = kb.library.plates.get(plate_code(plate))
    try:
        body = AppointmentIn(
            hall=hall, item=item, slot=slot, name=name, phone=phone.strip(), plate=p.code if p else None
        )
    except ValueError:
        message = "请检查：要选一个时段，写上称呼，手机号要11位。"
        return _booking_page(request, kb, store, item, plate or None, message, 400)
    try:
        booked = appointments.book(kb.library, store, body, kb.clock.now())
    except (SlotFull, BadRequest) as exc:
        return _booking_page(request, kb, store, item, plate or None, str(exc), exc.status)
    return RedirectResponse(SITE.appointment_status(booked.code), status_code=303)


def _appointment_context(kb: KnowledgeBase, store: Store, code: str) -> dict[str, object]:
    found = None
    if code:
        try:
            found = store.appointments.by_code(code)
        except NotFound:
            found = None
    hall = kb.library.halls.get(found.hall) if found else None
    guide = kb.library.guides.get(found.item) if found else None
    return {
        "code": code,
        "a": found,
        "hall": hall,
        "guide": guide,
        # The code alone opens this page: what it shows of the person is masked.
        "name": mask_name(found.name) if found else "",
        "phone": mask_pii(found.phone) if found else "",
        "error": "",
    }


@router.get("/yuyue/status", response_class=HTMLResponse, dependencies=[limited(Limit.AGENCY_STATUS_PER_IP)])
def appointment_status(
    request: Request, kb: Kb, store: StoreDep, code: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    """A booking by its code: when and where, and the form to cancel it."""
    return _renderer(request).page(request, "appointment_status.html", _appointment_context(kb, store, code))


@router.post("/yuyue/cancel", response_class=HTMLResponse, dependencies=[limited(Limit.BOOKING_PER_IP)])
def appointment_cancel(
    request: Request,
    kb: Kb,
    store: StoreDep,
    code: Annotated[str, Form(max_length=32)],
    phone: Annotated[str, Form(max_length=20)],
) -> Response:
    """Cancel with the code and the phone the booking was made with; the place is free again."""
    context = _appointment_context(kb, store, code)
    try:
        store.appointments.cancel(code, phone.strip())
    except NotFound as exc:
        context["error"] = str(exc)
        return _renderer(request).page(request, "appointment_status.html", context, status=404)
    return _renderer(request).page(request, "appointment_status.html", _appointment_context(kb, store, code))


# ---- 在线预审


@router.get("/bang/precheck", response_class=HTMLResponse, dependencies=[limited(Limit.AGENCY_STATUS_PER_IP)])
def precheck_page(
    request: Request,
    kb: Kb,
    store: StoreDep,
    settings: Annotated[Settings, Depends(get_settings)],
    code: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """A pre-check by its code: upload a photo of each material; staff's verdicts once they have looked."""
    pc = None
    if code:
        try:
            pc = precheck.view(store, kb, code)
        except NotFound:
            pc = None
    context = {"code": code, "pc": pc, "error": "", "max_kb": settings.upload_max_bytes // 1024}
    return _renderer(request).page(request, "precheck.html", context, status=200 if pc or not code else 404)


@router.post("/bang/precheck/upload", response_class=HTMLResponse, dependencies=[limited(Limit.UPLOAD_PER_IP)])
async def precheck_upload(
    request: Request,
    kb: Kb,
    store: StoreDep,
    settings: Annotated[Settings, Depends(get_settings)],
    code: Annotated[str, Form(max_length=32)],
    material: Annotated[int, Form(ge=0, le=200)],
    photo: Annotated[UploadFile, File()],
) -> Response:
    """One photo of one material; over the size limit, not an image, or too many: the page says why (400/413)."""
    data = await photo.read(settings.upload_max_bytes + 1)
    try:
        await in_thread(precheck.upload, store, kb, code, material, data, settings.upload_max_bytes)
    except NotFound:
        raise  # no such pre-check: the error page, not the upload page
    except MenpaiError as exc:
        pc = await in_thread(precheck.view, store, kb, code)
        context = {"code": code, "pc": pc, "error": str(exc), "max_kb": settings.upload_max_bytes // 1024}
        return _renderer(request).page(request, "precheck.html", context, status=exc.status)
    return RedirectResponse(SITE.precheck(normalize_code(code)) + f"#m{material}", status_code=303)


@router.get("/bang/precheck/photo/{token}", dependencies=[limited(Limit.AGENCY_STATUS_PER_IP)])
def precheck_photo(store: StoreDep, token: str, code: Annotated[str, Query(max_length=32)] = "") -> Response:
    """The resident's own photo (the request's code must come with it)."""
    row, data = store.uploads.get(token[:64])
    if row.purpose != "precheck" or row.agency_code != normalize_code(code):
        raise NotFound("这张图片不存在或已删除")
    return Response(data, media_type=row.content_type, headers={"Cache-Control": "no-store"})
