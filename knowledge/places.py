"""Halls near a point, their open state now, and map navigation links.

Coordinates in the guides are GCJ-02, the datum of Amap and Tencent maps.
Baidu maps use BD-09, so Baidu links get converted coordinates (and say so
with coord_type=bd09ll).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from knowledge.schema import Hall, Holiday, Weekday

CHINA_TZ = ZoneInfo("Asia/Shanghai")
CLOSING_SOON = dt.timedelta(minutes=30)
_DAYS = [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI, Weekday.SAT, Weekday.SUN]


def distance_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → BD-09 (Baidu's published offset)."""
    x_pi = math.pi * 3000.0 / 180.0
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * x_pi)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * x_pi)
    return round(z * math.cos(theta) + 0.0065, 6), round(z * math.sin(theta) + 0.006, 6)


@dataclass(frozen=True)
class NavLinks:
    amap: str
    baidu: str
    tencent: str


def nav_links(name: str, lng: float, lat: float, src: str = "menpai") -> NavLinks:
    """One-tap navigation links to a GCJ-02 point for the three common map apps."""
    amap = "https://uri.amap.com/navigation?" + urlencode(
        {"to": f"{lng},{lat},{name}", "mode": "walk", "coordinate": "gaode", "callnative": 1, "src": src}
    )
    bd_lng, bd_lat = gcj02_to_bd09(lng, lat)
    baidu = "https://api.map.baidu.com/direction?" + urlencode(
        {
            "destination": f"latlng:{bd_lat},{bd_lng}|name:{name}",
            "mode": "walking",
            "coord_type": "bd09ll",
            "region": "南安",
            "output": "html",
            "src": src,
        }
    )
    tencent = (
        "https://apis.map.qq.com/uri/v1/routeplan?type=walk&to="
        + quote(name)
        + f"&tocoord={lat},{lng}&referer={quote(src)}"
    )
    return NavLinks(amap, baidu, tencent)


class OpenState(enum.StrEnum):
    OPEN = "open"
    CLOSING_SOON = "closing_soon"
    CLOSED = "closed"


@dataclass(frozen=True)
class HallStatus:
    state: OpenState
    label: str
    until: dt.datetime | None = None


def _sessions_on(hall: Hall, day: dt.date, holidays: dict[dt.date, Holiday]) -> list[tuple[dt.time, dt.time]]:
    holiday = holidays.get(day)
    if holiday is not None and holiday.closed:
        return []
    weekday = _DAYS[day.weekday()]
    if holiday is not None and not holiday.closed:
        weekday = Weekday.MON  # make-up working day: weekday hours
    out = []
    for rule in hall.hours:
        if weekday in rule.days:
            out += [(dt.time.fromisoformat(s.start), dt.time.fromisoformat(s.end)) for s in rule.sessions]
    return sorted(out)


def sessions_on(hall: Hall, day: dt.date, holidays: Iterable[Holiday] = ()) -> list[tuple[dt.time, dt.time]]:
    """The opening sessions of a hall on one day (none on a public holiday, weekday hours on a
    make-up working day)."""
    return _sessions_on(hall, day, {h.date: h for h in holidays})


def open_status(hall: Hall, now: dt.datetime, holidays: Iterable[Holiday] = ()) -> HallStatus:
    """Open now, closing within 30 minutes, or closed until the next opening."""
    now = now.astimezone(CHINA_TZ) if now.tzinfo else now.replace(tzinfo=CHINA_TZ)
    by_day = {h.date: h for h in holidays}
    today = now.date()
    for start, end in _sessions_on(hall, today, by_day):
        s = dt.datetime.combine(today, start, CHINA_TZ)
        e = dt.datetime.combine(today, end, CHINA_TZ)
        if s <= now < e:
            if e - now <= CLOSING_SOON:
                return HallStatus(OpenState.CLOSING_SOON, f"快下班了，{end:%H:%M}关门", e)
            return HallStatus(OpenState.OPEN, f"正在办公，{end:%H:%M}前可办", e)
    for offset in range(0, 15):
        day = today + dt.timedelta(days=offset)
        for start, _ in _sessions_on(hall, day, by_day):
            s = dt.datetime.combine(day, start, CHINA_TZ)
            if s > now:
                return HallStatus(OpenState.CLOSED, f"已下班，{_day_word(today, day)}{start:%H:%M}开门", s)
    return HallStatus(OpenState.CLOSED, "近期不办公", None)


def _day_word(today: dt.date, day: dt.date) -> str:
    delta = (day - today).days
    if delta == 0:
        return "今天"
    if delta == 1:
        return "明天"
    if delta == 2:
        return "后天"
    return f"{day.month}月{day.day}日（{'一二三四五六日'[day.weekday()]}）"


def hours_text(hall: Hall) -> str:
    """Opening hours in plain words, e.g. 周一至周五 08:00-12:00、14:30-17:30."""
    names = {
        Weekday.MON: "一",
        Weekday.TUE: "二",
        Weekday.WED: "三",
        Weekday.THU: "四",
        Weekday.FRI: "五",
        Weekday.SAT: "六",
        Weekday.SUN: "日",
    }
    parts = []
    for rule in hall.hours:
        days = rule.days
        if len(days) > 2 and [_DAYS.index(d) for d in days] == list(
            range(_DAYS.index(days[0]), _DAYS.index(days[-1]) + 1)
        ):
            label = f"周{names[days[0]]}至周{names[days[-1]]}"
        else:
            label = "、".join(f"周{names[d]}" for d in days)
        parts.append(label + " " + "、".join(f"{s.start}-{s.end}" for s in rule.sessions))
    return "；".join(parts)


@dataclass(frozen=True)
class NearbyHall:
    hall: Hall
    distance_m: float
    status: HallStatus
    nav: NavLinks

    @property
    def distance_text(self) -> str:
        if self.distance_m < 1000:
            return f"{int(round(self.distance_m, -1))}米"
        return f"{self.distance_m / 1000:.1f}公里"


def nearest_halls(
    halls: Iterable[Hall],
    lng: float,
    lat: float,
    now: dt.datetime,
    holidays: Iterable[Holiday] = (),
    item: str | None = None,
    limit: int = 3,
) -> list[NearbyHall]:
    """Halls by distance from a GCJ-02 point, optionally only those handling an item."""
    hols = list(holidays)
    pool = [h for h in halls if item is None or item in h.items]
    pool.sort(key=lambda h: distance_m(lng, lat, h.lng, h.lat))
    return [
        NearbyHall(h, distance_m(lng, lat, h.lng, h.lat), open_status(h, now, hols), nav_links(h.name, h.lng, h.lat))
        for h in pool[:limit]
    ]
