"""Agency requests (帮办代办): a resident asks for someone to do it for (or with) them."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from knowledge.errors import BadRequest
from knowledge.library import Library
from knowledge.schema import plate_code
from web.db.store import Store
from web.db.tables import AgencyKind, AgencyRequest, AgencyStatus
from web.render.sentences import AGENCY_KINDS

PHONE_PATTERN = r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$"  # a mobile, or a landline with its area code
PLATE_PATTERN = r"^[A-Za-z]{2}\d{6}$"
CLOSED = (AgencyStatus.DONE, AgencyStatus.CANCELLED)


class AgencyIn(BaseModel):
    """A request as the API and the plain form (/bang) send it."""

    item: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(pattern=PHONE_PATTERN)
    preferred_time: str = Field(min_length=1, max_length=64)
    plate: str | None = Field(default=None, max_length=16, pattern=PLATE_PATTERN)
    address: str = Field(default="", max_length=200)
    # 帮办代办 (default), 上门办 (staff come to the plate's address) or 在线预审 (photos of the materials first)
    kind: AgencyKind = AgencyKind.AGENCY
    situation: str | None = Field(default=None, max_length=48, pattern=r"^[a-z0-9][a-z0-9-]*$")


def request_agency(store: Store, library: Library, body: AgencyIn) -> AgencyRequest:
    """Store a request (the door plate's address when none is given); its code lets the resident check it.

    Raises:
        BadRequest: an unknown item or situation, neither an address nor a known door plate, or a
            上门办 request without a door plate (staff go to the plate's address and community).
    """
    if body.item not in library.guides:
        raise BadRequest(f"unknown item {body.item!r}")
    guide = library.guides[body.item]
    if body.situation and body.situation not in [s.id for s in guide.situations]:
        raise BadRequest(f"unknown situation {body.situation!r} of {body.item}")
    plate = library.plates.get(plate_code(body.plate))
    if body.kind is AgencyKind.HOME and plate is None:
        raise BadRequest("上门办要从门牌页申请：工作人员按门牌地址上门（请扫家门口的门牌）")
    address = (plate.full_address if plate else "") if body.kind is AgencyKind.HOME else ""
    address = address or body.address or (plate.full_address if plate else "")
    if not address:
        raise BadRequest("give an address or a door-plate code")
    req = store.agency.add(
        item=body.item,
        name=body.name,
        phone=body.phone,
        preferred_time=body.preferred_time,
        address=address,
        plate=plate.code if plate else None,
        kind=body.kind.value,
        situation=body.situation,
    )
    store.analytics.record("help_request", plate=plate.code if plate else None, item=body.item, detail=body.kind.value)
    return req


@dataclass
class OpenRequest:
    """A request as the help desk's list shows it: with its kind and, for a door plate, the community."""

    req: AgencyRequest
    kind: str
    item: str
    community: str


def open_requests(store: Store, library: Library) -> list[OpenRequest]:
    """Requests staff still have to do, newest first (the phone in full: staff call the resident back)."""
    rows = []
    for r in store.agency.all():
        if r.status in CLOSED:
            continue
        plate = library.plates.get(r.plate or "")
        guide = library.guides.get(r.item)
        community = f"{plate.town} {plate.community}" if plate else ""
        kind = AGENCY_KINDS.get(r.kind, r.kind)
        rows.append(OpenRequest(r, kind, guide.title if guide else r.item, community))
    return rows
