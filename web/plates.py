"""Print-ready door plates: a QR code with the plate URL, title, address, short code.

Error correction is level H (30% of the code can be lost): plates hang outdoors,
get dirty, scratched and sun-bleached.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_H

from knowledge.errors import BadRequest
from knowledge.library import load_library, loaders
from knowledge.library.problems import Problem
from knowledge.schema import Plate
from knowledge.settings import Settings
from web.urls import Urls

logger = logging.getLogger(__name__)

TITLE = "数字政务门牌 · 扫码办事"


def _qr(data: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_H, box_size=10, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def qr_png(data: str) -> bytes:
    buf = io.BytesIO()
    _qr(data).make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    return buf.getvalue()


def qr_svg(data: str, size_mm: int = 30) -> str:
    """A QR code as an inline SVG element (the print view's link back to the guide)."""
    qr = _qr(data)
    svg = qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")
    inner = svg[svg.index(">") + 1 : svg.rindex("</svg>")]
    n = qr.modules_count + 8
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_mm}mm" height="{size_mm}mm" '
        f'viewBox="0 0 {n} {n}" role="img" aria-label="二维码：{escape(data)}">{inner}</svg>'
    )


def plate_svg(plate: Plate, url: str, issuer: str) -> str:
    """One plate as a standalone SVG (for a sign maker)."""
    qr_svg = _qr(url).make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")
    inner = qr_svg[qr_svg.index(">") + 1 : qr_svg.rindex("</svg>")]
    size = _qr(url).modules_count + 8
    address = escape(plate.full_address)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120mm" height="160mm" viewBox="0 0 120 160">'
        '<rect width="120" height="160" rx="6" fill="#0b4f9c"/>'
        '<rect x="6" y="22" width="108" height="132" rx="4" fill="#fff"/>'
        f'<text x="60" y="15" font-size="8" fill="#fff" text-anchor="middle" font-weight="bold">{escape(TITLE)}</text>'
        f'<svg x="20" y="26" width="80" height="80" viewBox="0 0 {size} {size}">{inner}</svg>'
        f'<text x="60" y="118" font-size="6" text-anchor="middle">{address}</text>'
        f'<text x="60" y="130" font-size="7" text-anchor="middle" font-family="monospace">{plate.code}</text>'
        f'<text x="60" y="145" font-size="4.5" text-anchor="middle">{escape(issuer)}发放 · 微信/相机扫码</text>'
        "</svg>"
    )


def qr_modules(data: str) -> list[list[bool]]:
    """The QR code's modules (True = dark), without the quiet zone: what a plate prints."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_H, border=0)
    qr.add_data(data)
    qr.make(fit=True)
    return [[bool(m) for m in row] for row in qr.modules]


def _qr_path(canvas: Any, modules: list[list[bool]], x: float, y: float, size: float) -> None:
    """Draw the modules as vector squares (sharp at any print size; no image to encode and
    decode per plate): one rectangle per horizontal run of dark modules, all in one path, in
    a coordinate system of one unit per module (small integers: short to write in the PDF)."""
    n = len(modules)
    canvas.saveState()
    canvas.translate(x, y + size)
    canvas.scale(size / n, -size / n)  # row r, column c of the code at (c, r)
    path = canvas.beginPath()
    for r, row in enumerate(modules):
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                path.rect(start, r, c - start, 1)
            else:
                c += 1
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


Progress = Callable[[int], None]


def _pdf(plates: Sequence[Plate], settings: Settings, out: Path, progress: Progress | None = None) -> None:
    from reportlab.lib.colors import HexColor, black, white
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(out), pagesize=A4)
    c.setTitle("数字政务门牌（示例）")
    page_w, page_h = A4
    w, h = 90 * mm, 125 * mm
    cols, rows = 2, 2
    margin_x = (page_w - cols * w) / 3
    margin_y = (page_h - rows * h) / 3
    urls = Urls(settings.public_base_url)
    footer = f"{settings.issuing_body}发放 · 网址 {settings.official_domain}"
    for n, plate in enumerate(plates):
        slot = n % (cols * rows)
        if n and slot == 0:
            c.showPage()
        x = margin_x + (slot % cols) * (w + margin_x)
        y = page_h - (margin_y + (slot // cols + 1) * h + (slot // cols) * margin_y)
        c.setFillColor(HexColor("#0b4f9c"))
        c.roundRect(x, y, w, h, 4 * mm, fill=1, stroke=0)
        c.setFillColor(white)
        c.roundRect(x + 4 * mm, y + 4 * mm, w - 8 * mm, h - 20 * mm, 3 * mm, fill=1, stroke=0)
        c.setFont("STSong-Light", 14)
        c.drawCentredString(x + w / 2, y + h - 11 * mm, TITLE)
        # The code with a quiet zone of 4 modules (white, the card's own background).
        modules = qr_modules(urls.qr(plate.code))
        q = 62 * mm
        quiet = q * 4 / (len(modules) + 8)
        c.setFillColor(black)
        _qr_path(c, modules, x + (w - q) / 2 + quiet, y + h - 20 * mm - q + quiet, q - 2 * quiet)
        c.setFillColor(HexColor("#111111"))
        c.setFont("STSong-Light", 11)
        c.drawCentredString(x + w / 2, y + 30 * mm, plate.full_address)
        c.setFont("Courier-Bold", 16)
        c.drawCentredString(x + w / 2, y + 20 * mm, plate.code)
        c.setFont("STSong-Light", 8)
        c.drawCentredString(x + w / 2, y + 12 * mm, footer)
        c.drawCentredString(x + w / 2, y + 7 * mm, "示例门牌 · 不要扫码付款")
        if progress is not None:
            progress(1)
    c.save()


def load_plates_file(path: Path) -> list[Plate]:
    """Door plates from a CSV in the columns of guides/plates.csv (an export of the address register)."""
    problems: list[Problem] = []
    plates = loaders.load_plates(path.parent, problems, path)
    if problems:
        raise BadRequest(f"{path}: " + "; ".join(f"line {p.line}: {p.message}" for p in problems[:5]))
    return list((plates or {}).values())


def make_plates(
    settings: Settings,
    out: Path,
    *,
    fmt: str = "pdf",
    town: str | None = None,
    limit: int | None = None,
    plates_file: Path | None = None,
    progress: Callable[[int], Progress] | None = None,
) -> Path:
    """Write plates as one PDF sheet, or one SVG/PNG file per plate into a folder.

    ``plates_file``: a CSV of plates instead of the library's; ``progress(total)`` returns a
    function called with the number of plates done since its last call (a progress bar).
    """
    if plates_file is not None:
        source = load_plates_file(plates_file)
    else:
        source = list(load_library(settings.guides_path, settings.catalogue).plates.values())
    plates = [p for p in source if town is None or p.town == town]
    if not plates:
        towns = sorted({p.town for p in source})
        raise BadRequest(f"no door plates for town {town!r}; towns: {'、'.join(towns)}")
    plates = plates[:limit] if limit else plates
    step = progress(len(plates)) if progress is not None else None
    if fmt == "pdf":
        out.parent.mkdir(parents=True, exist_ok=True)
        _pdf(plates, settings, out, step)
        return out
    if fmt not in ("svg", "png"):
        raise BadRequest(f"unknown format {fmt!r}: use pdf, svg or png")
    out.mkdir(parents=True, exist_ok=True)
    for plate in plates:
        url = Urls(settings.public_base_url).qr(plate.code)
        if fmt == "svg":
            (out / f"{plate.code}.svg").write_text(plate_svg(plate, url, settings.issuing_body), encoding="utf-8")
        else:
            (out / f"{plate.code}.png").write_bytes(qr_png(url))
        if step is not None:
            step(1)
    logger.info("wrote %d plates to %s", len(plates), out)
    return out
