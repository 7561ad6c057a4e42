"""Rate limits of the resident-facing routes: one sliding-window limiter, the client's IP, one dependency.

Every limit is a setting ``MENPAI_RATE_<LIMIT>`` written ``COUNT/SECONDS`` and counts either
per client IP or per chat session. The limiter lives in the process (one per web copy):
behind a load balancer with N copies a client gets at most N times the limit. A refused
request raises ``RateLimited``: 429 with Retry-After, in the JSON shape or as the error page.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from knowledge.settings import Settings
from web.errors import RateLimited

MAX_KEYS = 200_000  # the oldest-used keys are forgotten past this (memory stays bounded under a flood)


class Scope(enum.StrEnum):
    IP = "ip"
    SESSION = "session"


class Limit(enum.StrEnum):
    """What is limited; the value names the setting (``rate_<value>``)."""

    CHAT_PER_SESSION = "chat_per_session"
    CHAT_PER_IP = "chat_per_ip"
    ASK_PER_IP = "ask_per_ip"
    LEAVE_MESSAGE_PER_SESSION = "leave_message_per_session"
    LEAVE_MESSAGE_PER_IP = "leave_message_per_ip"
    RATING_PER_SESSION = "rating_per_session"
    RATING_PER_IP = "rating_per_ip"
    AGENCY_PER_IP = "agency_per_ip"
    AGENCY_STATUS_PER_IP = "agency_status_per_ip"
    REPORT_PER_IP = "report_per_ip"
    BOOKING_PER_IP = "booking_per_ip"
    UPLOAD_PER_IP = "upload_per_ip"

    @property
    def scope(self) -> Scope:
        return Scope.SESSION if self.value.endswith("_per_session") else Scope.IP


@dataclass(frozen=True)
class Rate:
    """At most ``count`` requests in any ``seconds``."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        count, seconds = text.split("/")
        return cls(int(count), int(seconds))


def rates_from(settings: Settings) -> dict[Limit, Rate]:
    return {limit: Rate.parse(getattr(settings, f"rate_{limit.value}")) for limit in Limit}


class RateLimiter:
    """Sliding-window log per (limit, key): the times of the requests let through in the window."""

    def __init__(
        self, rates: dict[Limit, Rate], clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        self.rates = rates
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[tuple[Limit, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, keys: Iterable[tuple[Limit, str]]) -> None:
        """Count one request against every (limit, key); RateLimited, and nothing counted, if one is full."""
        now = self.clock()
        with self._lock:
            windows = []
            for limit, key in keys:
                rate = self.rates[limit]
                window = self._hits.get((limit, key))
                if window is None:
                    window = self._hits[(limit, key)] = deque()
                self._hits.move_to_end((limit, key))
                while window and window[0] <= now - rate.seconds:
                    window.popleft()
                if len(window) >= rate.count:
                    wait = math.ceil(window[0] + rate.seconds - now)
                    raise RateLimited(_message(limit, wait), wait)
                windows.append(window)
            for window in windows:
                window.append(now)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)


def _message(limit: Limit, wait: int) -> str:
    when = f"{max(1, math.ceil(wait / 60))} 分钟" if wait >= 60 else f"{max(1, wait)} 秒"
    return f"提交太频繁了，请 {when}后再试，或拨打12345（{limit.value}）"


TrustedProxies = list[ipaddress.IPv4Network | ipaddress.IPv6Network]


def trusted_proxies(setting: str) -> TrustedProxies:
    """``MENPAI_TRUSTED_PROXIES``: comma-separated addresses or networks (CIDR)."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip()]


def _trusted(address: str, proxies: TrustedProxies) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_ip(request: Request, proxies: TrustedProxies) -> str:
    """The socket peer; behind a trusted proxy, the address X-Forwarded-For gives for the client.

    X-Forwarded-For is read right to left, skipping trusted proxies: the first address no
    trusted proxy vouches for is the client (the left-most when the proxy overwrites the
    header; a client's own forged entries on the left are never believed).
    """
    peer = request.client.host if request.client else "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
    for address in reversed(forwarded):
        if not _trusted(address, proxies):
            return address
    return forwarded[0] if forwarded else peer


class Throttle:
    """The limits as one request sees them: its client IP, and the app's limiter."""

    def __init__(self, limiter: RateLimiter, ip: str) -> None:
        self.limiter = limiter
        self.ip = ip

    def check(self, *limits: Limit, session: str | None = None) -> None:
        """Count this request against these limits (per-session ones only with a session)."""
        keys = []
        for limit in limits:
            if limit.scope is Scope.IP:
                keys.append((limit, self.ip))
            elif session is not None:
                keys.append((limit, session))
        self.limiter.hit(keys)


async def get_throttle(request: Request) -> Throttle:
    state = request.app.state
    return Throttle(state.limiter, client_ip(request, state.trusted_proxies))


def limited(*limits: Limit) -> Any:
    """A route dependency: refuse with 429 past these per-IP limits, before the route runs.

    Per-session limits need the session the route resolves: it calls ``throttle.check(..., session=)``.
    """

    async def check(throttle: Throttle = Depends(get_throttle)) -> Throttle:  # noqa: B008
        throttle.check(*limits)
        return throttle

    return Depends(check)
