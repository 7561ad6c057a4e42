"""Halls near a point, their open state now, and map navigation links.

A hall's opening hours are an ``OpeningHours`` of ``knowledge.hours`` (the one model for
opening hours); the functions here read a hall's rules through it.

Coordinates in the guides are GCJ-02, the datum of Amap and Tencent maps.
Baidu maps use BD-09, so Baidu links get converted coordinates (and say so
with coord_type=bd09ll).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from knowledge.hours import OpeningHours, OpenStatus, rules_text
from knowledge.schema import Hall, Holiday


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


def opening_hours(hall: Hall, holidays: Iterable[Holiday] = ()) -> OpeningHours:
    """A hall's opening hours with the city's holidays."""
    return OpeningHours.from_rules(hall.hours, holidays)


def sessions_on(hall: Hall, day: dt.date, holidays: Iterable[Holiday] = ()) -> list[tuple[dt.time, dt.time]]:
    """The opening sessions of a hall on one day (none on a public holiday, weekday hours on a
    make-up working day)."""
    return [i.times() for i in opening_hours(hall, holidays).intervals_on(day)]


def open_status(hall: Hall, now: dt.datetime, holidays: Iterable[Holiday] = ()) -> OpenStatus:
    """Open now, closing within 30 minutes, or closed until the next opening."""
    return opening_hours(hall, holidays).status(now)


def hours_text(hall: Hall) -> str:
    """Opening hours in plain words, e.g. 周一至周五 08:00-12:00、14:30-17:30."""
    return rules_text(hall.hours)


@dataclass(frozen=True)
class NearbyHall:
    hall: Hall
    distance_m: float
    status: OpenStatus
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
