"""Appointments (预约): slots from guides/slots.yaml and the halls' hours; capacity under concurrent bookings."""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from knowledge.hours import CHINA_TZ
from knowledge.library import Library
from tests.web.test_staff import add_staff, login
from web.db.appointments import SlotFull
from web.db.store import Store
from web.helpdesk import appointments
from web.helpdesk.appointments import AppointmentIn, group_for, slot_keys

pytestmark = pytest.mark.integration

# A Wednesday morning in China: the city centre opens 08:00-12:00 and 14:30-17:30 on weekdays.
WEDNESDAY = dt.datetime(2026, 12, 2, 9, 10, tzinfo=CHINA_TZ)


def first_slot(library: Library, hall: str = "nanan-city-centre", now: dt.datetime = WEDNESDAY) -> str:
    return slot_keys(library, library.halls[hall], now)[0][1][0]


def test_slots_follow_opening_hours_and_skip_the_past_and_lunch(library: Library) -> None:
    days = slot_keys(library, library.halls["nanan-city-centre"], WEDNESDAY)
    today, keys = days[0]
    assert today == dt.date(2026, 12, 2)
    assert keys[0] == "2026-12-02 09:30"  # 09:00 has begun: the next half-hour is the first
    assert "2026-12-02 11:30" in keys and "2026-12-02 12:00" not in keys and "2026-12-02 14:00" not in keys
    assert "2026-12-02 14:30" in keys and keys[-1] == "2026-12-02 17:00"
    sunday = [d for d, _ in days if d.weekday() == 6]
    assert not sunday  # closed on Sundays: no slots
    assert len(days) <= library.slots.days_ahead + 1


def test_group_comes_from_the_data_file(library: Library) -> None:
    city, town = library.halls["nanan-city-centre"], library.halls["town-01"]
    group = group_for(library, city, "id-card-renew")
    assert group is not None and group.id == "huji" and group.capacity == 4
    assert group_for(library, city, "dog-registration") is None  # no appointments for it
    town_group = group_for(library, town, "id-card-renew")
    assert town_group is not None and town_group.capacity == 2  # level: town applies to every town centre


def _book(library: Library, store: Store, slot: str, n: int) -> str:
    body = AppointmentIn(
        hall="nanan-city-centre", item="id-card-renew", slot=slot, name=f"居民{n}", phone=f"139{n:08d}"
    )
    return appointments.book(library, store, body, WEDNESDAY).code


def test_capacity_is_never_exceeded_by_concurrent_bookings(library: Library, store: Store) -> None:
    """16 residents press 确认预约 for the same half-hour at once (threads, one connection each)."""
    slot = first_slot(library)
    capacity = 4
    start = threading.Barrier(16)

    def attempt(n: int) -> str:
        start.wait()
        try:
            return _book(library, store, slot, n)
        except SlotFull:
            return "full"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(attempt, range(16)))
    codes = [r for r in results if r != "full"]
    assert len(codes) == capacity and len(set(codes)) == capacity
    assert results.count("full") == 16 - capacity
    assert store.appointments.booked_counts("nanan-city-centre", "huji", [slot]) == {slot: capacity}
    assert len([a for a in store.appointments.on_day(slot[:10]) if a.status == "booked"]) == capacity
    # A cancellation frees exactly one place.
    first = store.appointments.by_code(codes[0])
    with pytest.raises(Exception, match="核对"):
        store.appointments.cancel(first.code, "13800000000")  # another phone: refused
    store.appointments.cancel(first.code, first.phone)
    store.appointments.cancel(first.code, first.phone)  # twice is harmless: one place, not two
    assert store.appointments.booked_counts("nanan-city-centre", "huji", [slot]) == {slot: capacity - 1}
    _book(library, store, slot, 99)
    with pytest.raises(SlotFull):
        _book(library, store, slot, 100)


def test_a_time_not_offered_is_refused(library: Library, store: Store) -> None:
    for slot in ("2026-12-02 12:30", "2026-12-02 08:00", "2026-12-30 09:00"):
        with pytest.raises(Exception, match="不是"):
            _book(library, store, slot, 1)
    body = AppointmentIn(
        hall="nanan-city-centre", item="dog-registration", slot=first_slot(library), name="王", phone="13900000001"
    )
    with pytest.raises(Exception, match="不接受"):
        appointments.book(library, store, body, WEDNESDAY)


def test_booking_end_to_end_through_the_pages_and_staff_see_it_masked(client: Any) -> None:
    kb = client.app.state.kb
    page = client.get("/yuyue", params={"item": "id-card-renew", "plate": "NA010001"})
    assert page.status_code == 200 and "确认预约" in page.text
    slot = re.search(r'name="slot" value="([^"]+)"', page.text)
    hall = re.search(r'name="hall" value="([^"]+)"', page.text)
    assert slot and hall
    r = client.post(
        "/yuyue",
        data={
            "item": "id-card-renew",
            "hall": hall[1],
            "slot": slot[1],
            "name": "陈阿婆",
            "phone": "13912345678",
            "plate": "NA010001",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/yuyue/status?code=")
    status = client.get(r.headers["location"])
    code = re.search(r'class="code big-code">([0-9A-Z-]+)<', status.text)
    assert code and len(code[1]) == 9  # XXXX-XXXX: short enough to read out at the window
    assert "已预约" in status.text and "陈**" in status.text and "139****5678" in status.text
    assert "13912345678" not in status.text
    # Staff see the day's bookings, name and phone masked.
    add_staff(client, "lin")
    login(client, "lin")
    day = slot[1][:10]
    staff = client.get("/staff/appointments", params={"day": day})
    assert staff.status_code == 200 and code[1] in staff.text and "陈**" in staff.text and "139****5678" in staff.text
    assert "陈阿婆" not in staff.text and "13912345678" not in staff.text
    # Cancel with the phone: the place is back.
    r = client.post("/yuyue/cancel", data={"code": code[1], "phone": "13912345678"})
    assert r.status_code == 200 and "已取消" in r.text
    assert kb.library.slots.days_ahead == 7


def test_booking_form_errors_are_clear_and_keep_the_page(client: Any) -> None:
    r = client.post(
        "/yuyue", data={"item": "id-card-renew", "hall": "nanan-city-centre", "slot": "", "name": "王", "phone": "123"}
    )
    assert r.status_code == 400 and "手机号要11位" in r.text and "确认预约" in r.text
    r = client.post(
        "/yuyue",
        data={
            "item": "id-card-renew",
            "hall": "nanan-city-centre",
            "slot": "2020-01-01 09:00",
            "name": "王",
            "phone": "13900000000",
        },
    )
    assert r.status_code == 400 and "不是" in r.text
    assert client.get("/yuyue", params={"item": "no-such-item"}).status_code == 404


def test_staff_bookings_page_needs_the_right_role(client: Any) -> None:
    from web.db.tables import StaffRole

    assert client.get("/staff/appointments", follow_redirects=False).status_code == 303
    add_staff(client, "ed", StaffRole.EDITOR)
    login(client, "ed")
    assert client.get("/staff/appointments").status_code == 403
