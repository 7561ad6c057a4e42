"""Every URL web hands out, built in one place: pages, the chat form, staff pages, the QR on a plate.

Routes declare paths; everything that *writes* a link (templates, redirects, the answer
card's "详情", the door plate's QR code) asks ``Urls``. Templates reach it as ``url``.
An absolute URL (for QR codes, WeChat and SMS) needs the public base URL from settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode


def _query(**params: object) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return ("?" + urlencode(kept, safe="/")) if kept else ""


@dataclass(frozen=True)
class Urls:
    base: str = ""  # the public base URL ("https://menpai.example.gov.cn"); "" for site-relative links

    def absolute(self, path: str) -> str:
        return f"{self.base.rstrip('/')}{path}"

    # residents
    def home(self) -> str:
        return "/"

    def plate(self, code: str, anchor: str = "") -> str:
        return f"/p/{quote(code)}" + (f"#{anchor}" if anchor else "")

    def plate_chat(self, code: str) -> str:
        return f"/p/{quote(code)}/chat#chat"

    def guide(self, code: str, *, situation: str | None = None, plate: str | None = None) -> str:
        return f"/g/{quote(code)}" + _query(s=situation, plate=plate)

    def guide_print(self, code: str, *, situation: str | None = None, plate: str | None = None) -> str:
        """The checklist to take along: one A4 page (tick boxes, fee, nearest hall, a QR back)."""
        return f"/g/{quote(code)}/print" + _query(s=situation, plate=plate)

    def guide_share(self, code: str, *, situation: str | None = None, plate: str | None = None) -> str:
        """发到手机: the checklist as a short text to copy or share."""
        return f"/g/{quote(code)}/share" + _query(s=situation, plate=plate)

    def appointment(self, item: str, *, situation: str | None = None, plate: str | None = None) -> str:
        return "/yuyue" + _query(item=item, s=situation, plate=plate)

    def appointment_status(self, code: str) -> str:
        return "/yuyue/status" + _query(code=code)

    def precheck(self, code: str) -> str:
        return "/bang/precheck" + _query(code=code)

    def guide_report(self, code: str) -> str:
        return f"/g/{quote(code)}/report"

    def qr(self, code: str) -> str:
        """What a door plate's QR code encodes: the absolute plate URL."""
        return self.absolute(self.plate(code))

    # staff
    def staff_login(self, next_path: str = "") -> str:
        return "/staff/login" + _query(next=next_path)

    def staff_chat(self, conv_id: str, anchor: str = "") -> str:
        return f"/staff/c/{quote(conv_id)}" + (f"#{anchor}" if anchor else "")

    def staff_chat_action(self, conv_id: str, action: str) -> str:
        return f"/staff/c/{quote(conv_id)}/{action}"

    def editor(self, *, done: str | None = None, anchor: str = "") -> str:
        return "/staff/editor" + _query(done=done) + (f"#{anchor}" if anchor else "")

    def editor_guide(self, code: str, *, published: int | None = None) -> str:
        return f"/staff/editor/guides/{quote(code)}" + _query(published=published)


SITE = Urls()
