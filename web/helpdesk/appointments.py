"""Appointments (预约): the slots halls publish (guides/slots.yaml), booking, cancelling, the day's list.

A slot is a half-hour of a hall's opening hours (``knowledge.halls.sessions_on``: no lunch break,
no holidays) for one item group; its capacity is the data file's. Capacity is enforced by the
repository (``web.db.appointments``), which concurrent bookings cannot get past.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, Field

from knowledge.errors import BadRequest
from knowledge.halls import distance_m, sessions_on
from knowledge.hours import local
from knowledge.library import Library
from knowledge.schema import Hall, SlotGroup, plate_code
from web.db.store import Store
from web.db.tables import Appointment
from web.helpdesk.agency import PHONE_PATTERN, PLATE_PATTERN
from web.privacy import mask_name, mask_pii

SLOT_FORMAT = "%Y-%m-%d %H:%M"
MAX_HALLS = 3


class AppointmentIn(BaseModel):
    """A booking as the form (/yuyue) and the API send it."""

    hall: str = Field(min_length=1, max_length=48, pattern=r"^[a-z0-9][a-z0-9-]*$")
    item: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    slot: str = Field(pattern=r"^\d{4}-\d\d-\d\d \d\d:\d\d$")
    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(pattern=PHONE_PATTERN)
    plate: str | None = Field(default=None, max_length=16, pattern=PLATE_PATTERN)


@dataclass
class Slot:
    key: str  # YYYY-MM-DD HH:MM, China time
    label: str  # HH:MM
    left: int


@dataclass
class SlotDay:
    day: dt.date
    label: str
    slots: list[Slot]


@dataclass
class HallSlotsView:
    hall: Hall
    group: SlotGroup
    distance_m: float | None  # from the door plate, when there is one
    days: list[SlotDay]


def group_for(library: Library, hall: Hall, item: str) -> SlotGroup | None:
    """The item group under which this hall takes appointments for an item (None: it takes none)."""
    for entry in library.slots.halls:
        if entry.hall == hall.code or (entry.hall is None and entry.level is hall.level):
            for group in entry.groups:
                if item in group.items:
                    return group
    return None


WEEKDAYS = "一二三四五六日"


def slot_keys(library: Library, hall: Hall, now: dt.datetime) -> list[tuple[dt.date, list[str]]]:
    """The hall's future half-hours for the next ``days_ahead`` days, by day (days without any left out)."""
    step = dt.timedelta(minutes=library.slots.slot_minutes)
    here = local(now)
    out: list[tuple[dt.date, list[str]]] = []
    for offset in range(library.slots.days_ahead + 1):
        day = here.date() + dt.timedelta(days=offset)
        keys: list[str] = []
        for start, end in sessions_on(hall, day, library.holidays):
            at = dt.datetime.combine(day, start)
            close = dt.datetime.combine(day, end)
            while at + step <= close:
                if at > here.replace(tzinfo=None):
                    keys.append(at.strftime(SLOT_FORMAT))
                at += step
        if keys:
            out.append((day, keys))
    return out


def day_label(day: dt.date, today: dt.date) -> str:
    word = {0: "今天", 1: "明天", 2: "后天"}.get((day - today).days, "")
    return f"{day.month}月{day.day}日 周{WEEKDAYS[day.weekday()]}" + (f"（{word}）" if word else "")


def offers(
    library: Library, store: Store, item: str, now: dt.datetime, plate: str | None = None
) -> list[HallSlotsView]:
    """The halls nearest the plate (else the city centre first) that take appointments for the item, with their slots."""
    if item not in library.guides:
        raise BadRequest(f"unknown item {item!r}")
    p = library.plates.get(plate_code(plate))
    halls = [h for h in library.halls.values() if group_for(library, h, item) is not None]
    if p is not None:
        halls.sort(key=lambda h: distance_m(p.lng, p.lat, h.lng, h.lat))
    else:
        halls.sort(key=lambda h: (h.level.value != "city", h.code))
    today = local(now).date()
    views = []
    for hall in halls[:MAX_HALLS]:
        group = group_for(library, hall, item)
        assert group is not None
        by_day = slot_keys(library, hall, now)
        counts = store.appointments.booked_counts(hall.code, group.id, [k for _, keys in by_day for k in keys])
        days = [
            SlotDay(day, day_label(day, today), [Slot(k, k[-5:], group.capacity - counts.get(k, 0)) for k in keys])
            for day, keys in by_day
        ]
        metres = distance_m(p.lng, p.lat, hall.lng, hall.lat) if p is not None else None
        views.append(HallSlotsView(hall, group, metres, days))
    return views


def book(library: Library, store: Store, body: AppointmentIn, now: dt.datetime) -> Appointment:
    """Book one place; BadRequest for a hall, item or time that is not offered, SlotFull when it is taken.

    Raises:
        BadRequest: an unknown item or hall, a hall that takes no appointments for it, a time not offered.
        SlotFull: every place of the half-hour is taken.
    """
    if body.item not in library.guides:
        raise BadRequest(f"unknown item {body.item!r}")
    hall = library.halls.get(body.hall)
    if hall is None:
        raise BadRequest(f"unknown hall {body.hall!r}")
    group = group_for(library, hall, body.item)
    if group is None:
        raise BadRequest(f"{hall.name}不接受这件事的预约")
    if body.slot not in {k for _, keys in slot_keys(library, hall, now) for k in keys}:
        raise BadRequest(
            f"{body.slot} 不是{hall.name}可以预约的时段（已过去、不在办公时间，或超过 {library.slots.days_ahead} 天）"
        )
    p = library.plates.get(plate_code(body.plate))
    row = store.appointments.book(
        hall=hall.code,
        group=group.id,
        slot=body.slot,
        capacity=group.capacity,
        item=body.item,
        name=body.name.strip(),
        phone=body.phone,
        plate=p.code if p else None,
    )
    store.analytics.record("appointment", plate=row.plate, item=row.item, detail=hall.code)
    return row


@dataclass
class BookingRow:
    """A booking as staff see it: name and phone masked."""

    code: str
    slot: str
    hall: str
    group: str
    item: str
    name: str
    phone: str
    status: str


def day_list(library: Library, store: Store, day: str, hall: str | None = None) -> list[BookingRow]:
    """The day's bookings, ``YYYY-MM-DD``, for the help desk; personal data masked."""
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        raise BadRequest(f"day must be YYYY-MM-DD, not {day!r}") from None
    rows = []
    for a in store.appointments.on_day(day, hall):
        h = library.halls.get(a.hall)
        group = group_for(library, h, a.item) if h else None
        guide = library.guides.get(a.item)
        rows.append(
            BookingRow(
                a.code,
                a.slot[-5:],
                h.name if h else a.hall,
                group.name if group else a.group,
                guide.title if guide else a.item,
                mask_name(a.name),
                mask_pii(a.phone),
                a.status,
            )
        )
    return rows
