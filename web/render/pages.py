"""Pages and fragments: one Jinja2 environment, filters registered in one place, autoescape on.

``environment()`` is the one environment (the answer card renders with it outside an app too);
an app's ``Renderer`` overlays it with that app's globals (settings, static URLs).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from knowledge.hours import CHINA_TZ
from knowledge.settings import Settings
from web.helpdesk.editor import PART_LABELS
from web.helpdesk.labels import label
from web.helpdesk.roles import can
from web.render.sentences import TRIP_SAVERS, trips_badge
from web.static import HashedStatic
from web.urls import Urls

TEMPLATES = Path(__file__).parent.parent / "templates"
TEXT_COOKIE = "menpai_text"


def _distance(metres: float) -> str:
    return f"{int(round(metres, -1))}米" if metres < 1000 else f"{metres / 1000:.1f}公里"


def _cn_time(value: dt.datetime) -> str:
    """A stored (UTC) time as 南安 local time, HH:MM."""
    return value.replace(tzinfo=value.tzinfo or dt.UTC).astimezone(CHINA_TZ).strftime("%H:%M")


def _cn_datetime(value: dt.datetime) -> str:
    """A stored (UTC) time as 南安 local date and time, YYYY-MM-DD HH:MM."""
    return value.replace(tzinfo=value.tzinfo or dt.UTC).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _date_cn(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code: no stat of the file on every render
    )
    env.filters["distance"] = _distance
    env.filters["date_cn"] = _date_cn
    env.filters["cn_time"] = _cn_time
    env.filters["cn_datetime"] = _cn_datetime
    env.filters["trips_badge"] = trips_badge
    env.globals["trip_savers"] = TRIP_SAVERS
    return env


class Renderer:
    def __init__(self, settings: Settings, static: HashedStatic) -> None:
        self.settings = settings
        self.env = environment().overlay()
        self.env.globals = dict(self.env.globals)  # this app's globals; the shared environment keeps none
        self.env.globals["static"] = static.url
        self.env.globals["url"] = Urls(settings.public_base_url)
        self.env.globals["can"] = can  # staff templates: show what the role may use (web.helpdesk.roles)
        self.env.globals["label"] = label  # staff templates: labels, never raw enum values
        self.env.globals["report_parts"] = [(part.value, label) for part, label in PART_LABELS.items()]
        self.env.globals["site"] = {
            "issuing_body": settings.issuing_body,
            "domain": settings.official_domain,
            "video_help_url": settings.video_help_url,
        }

    def render(self, template: str, context: dict[str, Any]) -> str:
        return self.env.get_template(template).render(**context)

    @staticmethod
    def big_text(request: Request) -> bool:
        return request.cookies.get(TEXT_COOKIE) == "large"

    def render_page(self, request: Request, template: str, context: dict[str, Any]) -> str:
        """A whole page: the context plus what base.html needs from the request."""
        return self.render(template, {"request_path": request.url.path, "big_text": self.big_text(request), **context})

    @staticmethod
    def respond(html: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
        response = HTMLResponse(html, status_code=status, headers=headers)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response

    def page(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        return self.respond(self.render_page(request, template, context), status, headers)
