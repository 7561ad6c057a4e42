"""Door plates: every QR decodes (with a real decoder, zxing-cpp) to the plate's URL."""

from __future__ import annotations

from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from knowledge.errors import BadRequest
from knowledge.settings import Settings
from web.plates import make_plates

pytestmark = pytest.mark.integration


def test_plates_png_every_qr_decodes_to_its_url(settings: Settings, tmp_path: Path, library) -> None:  # type: ignore[no-untyped-def]
    s = settings.model_copy(update={"public_base_url": "https://menpai.nanan.gov.cn"})
    out = make_plates(s, tmp_path / "png", fmt="png")
    files = sorted(out.glob("*.png"))
    assert len(files) == len(library.plates)
    for f in files:
        results = zxingcpp.read_barcodes(Image.open(f))
        assert len(results) == 1, f.name
        assert results[0].text == f"https://menpai.nanan.gov.cn/p/{f.stem}"
        assert results[0].ec_level == "H"


def test_plates_pdf_sheet_for_one_town(settings: Settings, tmp_path: Path, library) -> None:  # type: ignore[no-untyped-def]
    out = make_plates(settings, tmp_path / "x.pdf", fmt="pdf", town="水头镇")
    data = out.read_bytes()
    n = sum(1 for p in library.plates.values() if p.town == "水头镇")
    assert data.startswith(b"%PDF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= (n + 3) // 4


def test_plates_pdf_every_qr_decodes_to_its_url(settings: Settings, tmp_path: Path, library) -> None:  # type: ignore[no-untyped-def]
    """The codes are drawn as vector squares: a real renderer (pdfium) and decoder read them back."""
    import pypdfium2 as pdfium

    s = settings.model_copy(update={"public_base_url": "https://menpai.nanan.gov.cn"})
    plates = [p for p in library.plates.values() if p.town == "水头镇"][:6]
    out = make_plates(s, tmp_path / "x.pdf", fmt="pdf", town="水头镇", limit=6)
    seen = []
    for page in pdfium.PdfDocument(out):
        for r in zxingcpp.read_barcodes(page.render(scale=2).to_pil()):
            assert r.ec_level == "H"
            seen.append(r.text)
    assert sorted(seen) == sorted(f"https://menpai.nanan.gov.cn/p/{p.code}" for p in plates)


def test_plates_from_a_csv_file_with_progress(settings: Settings, tmp_path: Path) -> None:
    csv = tmp_path / "register.csv"
    rows = [f"ZZ{n:06d},测试镇,测试社区,测试路{n}号,,118.39,24.95" for n in range(9)]
    csv.write_text("code,town,community,address,building,lng,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    done: list[int] = []
    totals: list[int] = []

    def progress(total: int):  # type: ignore[no-untyped-def]
        totals.append(total)
        return done.append

    out = make_plates(settings, tmp_path / "x.pdf", plates_file=csv, progress=progress)
    assert totals == [9] and sum(done) == 9
    data = out.read_bytes()
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") == 3  # four a sheet


def test_plates_csv_with_a_bad_row_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    csv = tmp_path / "register.csv"
    csv.write_text("code,town,community,address,building,lng,lat\nbad,镇,社区,路,,500,24\n", encoding="utf-8")
    with pytest.raises(BadRequest, match=r"register\.csv: line 2"):
        make_plates(settings, tmp_path / "x.pdf", plates_file=csv)


def test_plates_svg_has_title_code_and_qr(settings: Settings, tmp_path: Path) -> None:
    out = make_plates(settings, tmp_path / "svg", fmt="svg", limit=2)
    svg = sorted(out.glob("*.svg"))[0].read_text(encoding="utf-8")
    assert "数字政务门牌 · 扫码办事" in svg and "NA010001" in svg and "<path" in svg


def test_plates_unknown_town_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="no door plates for town '火星镇'"):
        make_plates(settings, tmp_path / "x.pdf", town="火星镇")
