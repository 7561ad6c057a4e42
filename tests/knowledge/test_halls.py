from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest

from knowledge.halls import distance_m, gcj02_to_bd09, hours_text, nav_links, open_status
from knowledge.hours import CHINA_TZ, OpenState
from knowledge.schema import Hall, Holiday

pytestmark = pytest.mark.unit

HALL = Hall.model_validate(
    {
        "code": "hall-1",
        "name": "测试大厅",
        "level": "town",
        "town": "溪美街道",
        "address": "x",
        "lng": 118.39,
        "lat": 24.96,
        "datum": "GCJ-02",
        "phone": "0595-1",
        "hours": [
            {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "sessions": [{"start": "08:00", "end": "12:00"}, {"start": "14:30", "end": "17:30"}],
            },
            {"days": ["sat"], "sessions": [{"start": "09:00", "end": "12:00"}]},
        ],
        "items": ["id-card-renew"],
    }
)


def at(day: int, hh: int, mm: int = 0) -> dt.datetime:
    # 2026-11-23 is a Monday.
    return dt.datetime(2026, 11, 23 + day, hh, mm, tzinfo=CHINA_TZ)


def test_open_status_morning_is_open() -> None:
    s = open_status(HALL, at(0, 9))
    assert s.state is OpenState.OPEN and s.label == "正在办公，12:00前可办"


def test_open_status_lunch_break_is_closed_until_afternoon() -> None:
    s = open_status(HALL, at(0, 12, 30))
    assert s.state is OpenState.CLOSED and s.label == "已下班，今天14:30开门"


def test_open_status_closing_soon_in_last_half_hour() -> None:
    assert open_status(HALL, at(0, 17, 10)).state is OpenState.CLOSING_SOON


def test_open_status_saturday_morning_and_sunday() -> None:
    assert open_status(HALL, at(5, 10)).state is OpenState.OPEN
    s = open_status(HALL, at(6, 10))
    assert s.state is OpenState.CLOSED and s.label == "已下班，明天08:00开门"


def test_open_status_holiday_closed_and_makeup_day_open() -> None:
    holidays = [
        Holiday(date=dt.date(2026, 11, 23), name="测试假日"),
        Holiday(date=dt.date(2026, 11, 29), name="调休上班", closed=False),
    ]
    assert open_status(HALL, at(0, 9), holidays).state is OpenState.CLOSED
    assert open_status(HALL, at(6, 9), holidays).state is OpenState.OPEN


def test_open_status_converts_utc_to_china_time() -> None:
    utc = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # 09:00 in 南安
    assert open_status(HALL, utc).state is OpenState.OPEN


def test_hours_text_reads_plainly() -> None:
    assert hours_text(HALL) == "周一至周五 08:00-12:00、14:30-17:30；周六 09:00-12:00"


def test_distance_is_metres() -> None:
    assert distance_m(118.39, 24.96, 118.40, 24.96) == pytest.approx(1010, rel=0.01)


def test_baidu_link_gets_bd09_and_says_so() -> None:
    links = nav_links("测试大厅", 118.39, 24.96)
    q = parse_qs(urlparse(links.baidu).query)
    bd_lng, bd_lat = gcj02_to_bd09(118.39, 24.96)
    assert q["coord_type"] == ["bd09ll"]
    assert q["destination"] == [f"latlng:{bd_lat},{bd_lng}|name:测试大厅"]
    assert 0.005 < bd_lng - 118.39 < 0.008 and 0.005 < bd_lat - 24.96 < 0.008


def test_amap_and_tencent_links_keep_gcj02() -> None:
    links = nav_links("测试大厅", 118.39, 24.96)
    assert parse_qs(urlparse(links.amap).query)["to"] == ["118.39,24.96,测试大厅"]
    assert "coordinate=gaode" in links.amap
    assert "tocoord=24.96,118.39" in links.tencent
