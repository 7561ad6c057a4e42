"""Agency requests (帮办代办): a resident asks for someone to do it for (or with) them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from knowledge.errors import BadRequest
from knowledge.library import Library
from knowledge.schema import plate_code
from web.db.store import Store
from web.db.tables import AgencyRequest, AgencyStatus

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


def request_agency(store: Store, library: Library, body: AgencyIn) -> AgencyRequest:
    """Store a request (the door plate's address when none is given); its code lets the resident check it.

    Raises:
        BadRequest: an unknown item, or neither an address nor a known door plate.
    """
    if body.item not in library.guides:
        raise BadRequest(f"unknown item {body.item!r}")
    plate = library.plates.get(plate_code(body.plate))
    address = body.address or (plate.full_address if plate else "")
    if not address:
        raise BadRequest("give an address or a door-plate code")
    req = store.agency.add(
        item=body.item,
        name=body.name,
        phone=body.phone,
        preferred_time=body.preferred_time,
        address=address,
        plate=plate.code if plate else None,
    )
    store.analytics.record("help_request", plate=plate.code if plate else None, item=body.item, detail="agency")
    return req


def open_requests(store: Store) -> list[AgencyRequest]:
    """Requests staff still have to do, newest first."""
    return [r for r in store.agency.all() if r.status not in CLOSED]
