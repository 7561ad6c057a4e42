"""Residents' channels in a real browser on a phone viewport (headless Debian Chromium via Playwright).

Read-aloud button (hidden without a Chinese voice; with one, it speaks zh-CN), the print view on one
A4 page (Chromium's own print to PDF, pages counted), booking a slot end to end, and a pre-check from
upload to the verdict the resident reads. Screenshots go to var/screenshots/res-*.png.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Iterator

import pytest
from PIL import Image

from scripts.stack import ROOT, free_port, process
from tests.e2e.conftest import screenshot_dir
from tests.e2e.test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.e2e
PASSWORD = "residents-browser-password"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

# A Chinese voice where the machine has none (headless Chromium on Linux ships no voices): the
# browser's speech engine is the edge we cannot reach, so getVoices and speak are replaced and recorded.
FAKE_VOICE = """
window.__spoken = [];
const voice = { lang: "zh-CN", name: "测试普通话", default: true, localService: true, voiceURI: "zh" };
speechSynthesis.getVoices = () => [voice];
speechSynthesis.speak = (u) => { window.__spoken.push({ lang: u.lang, text: u.text }); };
"""


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("residents")
    (tmp / "var").mkdir()
    (tmp / "var" / "index").symlink_to(ROOT / "var" / "index")
    env = {
        "MENPAI_VAR_PATH": str(tmp / "var"),
        "MENPAI_RASA_URL": "http://127.0.0.1:9",
        "MENPAI_ENVIRONMENT": "test",
        "MENPAI_STAFF_HOURS": "always",
    }
    subprocess.run(
        [str(ROOT / ".venv/bin/menpai"), "staff", "add", "lin", "--name", "小林", "--role", "agent"],
        env={**os.environ, **env, "MENPAI_STAFF_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
    )
    port = free_port()
    with process(
        [str(ROOT / ".venv/bin/menpai"), "serve", "--port", str(port)],
        env=env,
        ready=f"http://127.0.0.1:{port}/healthz",
        log=tmp / "web.log",
    ):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_read_aloud_button_on_a_phone(web: str, browser: object) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(f"{web}/g/id-card-renew?plate=NA010001")
    button = page.locator("[data-speak]").first
    assert page.locator("[data-speak]").count() >= 1  # present on every guide page
    has_voice = page.evaluate("speechSynthesis.getVoices().some(v => /^zh/i.test(v.lang))")
    assert button.is_hidden() == (not has_voice)  # hidden exactly where the browser has no Chinese voice
    ctx.close()

    ctx = browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[attr-defined]
    ctx.add_init_script(FAKE_VOICE)
    ctx.add_cookies([{"name": "menpai_text", "value": "large", "url": web}])  # 大字版
    page = ctx.new_page()
    page.goto(f"{web}/g/id-card-renew?plate=NA010001")
    button = page.locator(".notice-card > .actions button[data-speak]")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["height"] >= 48  # a big tap target in large-text mode
    button.click()
    spoken = page.evaluate("window.__spoken")
    assert spoken and all(s["lang"] == "zh-CN" for s in spoken)
    said = "".join(s["text"] for s in spoken)
    assert "居民身份证" in said and "朗读" not in said  # the page's words, not its buttons
    # The chat's answer card gets one too.
    page.goto(f"{web}/p/NA010001")
    page.fill("#chat-text", "换身份证要带什么")
    page.click(".chat-form button.primary")
    expect(page.locator(".answer-card [data-speak]").first).to_be_visible()
    ctx.close()


@pytest.mark.parametrize(
    "path",
    [
        "/g/id-card-renew/print?plate=NA010001",
        "/g/hpf-loan/print?s=second-hand&plate=NA010001",  # the most materials (10)
        "/g/open-shop-bundle/print?s=small-individual&plate=NA010001",  # the longest material texts
    ],
)
def test_print_view_fits_one_a4_page(web: str, browser: object, path: str) -> None:
    ctx = browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(web + path)
    assert page.locator(".tick").count() >= 3 and page.locator(".sheet-qr svg").count() == 1
    if "id-card-renew" in path:
        page.screenshot(path=str(screenshot_dir() / "res-print-view.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf_pages(pdf) == 1, f"{path} prints on {pdf_pages(pdf)} pages"
    if "id-card-renew" in path:
        (screenshot_dir() / "res-print-view.pdf").write_bytes(pdf)
    ctx.close()


def test_booking_a_slot_end_to_end(web: str, browser: object) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(f"{web}/g/id-card-renew?plate=NA010001")
    page.click(".notice-card > .actions >> text=📅 预约")
    expect(page.locator("h1")).to_contain_text("预约办理")
    form = page.locator("form.booking-form").first
    form.locator("input[name=slot]:not([disabled])").first.check()
    form.locator("input[name=name]").fill("陈阿婆")
    form.locator("input[name=phone]").fill("13912345678")
    page.screenshot(path=str(screenshot_dir() / "res-booking-slots.png"), full_page=False)
    form.locator("button[type=submit]").click()
    expect(page.locator("#booking")).to_contain_text("已预约")
    code = page.locator(".big-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert "13912345678" not in page.content() and "139****5678" in page.content()
    page.screenshot(path=str(screenshot_dir() / "res-booking.png"), full_page=True)
    # Staff see it in the day's list, masked.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    staff = desk.new_page()
    staff.goto(f"{web}/staff/login")
    staff.fill("#username", "lin")
    staff.fill("#password", PASSWORD)
    staff.click("button.primary")
    day = page.locator("#booking").inner_text().split("时间：")[1][:10]
    staff.goto(f"{web}/staff/appointments?day={day}")
    expect(staff.locator("#bookings")).to_contain_text(code)
    expect(staff.locator("#bookings")).to_contain_text("陈**")
    # The resident cancels with the phone.
    page.fill("#c-phone", "13912345678")
    page.click("text=取消预约 >> nth=-1")
    expect(page.locator("#booking")).to_contain_text("已取消")
    ctx.close()
    desk.close()


def test_precheck_from_upload_to_the_result(web: str, browser: object, tmp_path: object) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(f"{web}/bang?item=id-card-renew&kind=precheck&plate=NA010001")
    page.fill("#a-name", "陈阿婆")
    page.fill("#a-phone", "13912345678")
    page.fill("#a-time", "工作日上午")
    page.click("form.stack button.primary")
    page.click("#go-precheck")
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), (240, 240, 230)).save(buf, "JPEG")
    page.locator("input[type=file]").first.set_input_files(
        {"name": "hukou.jpg", "mimeType": "image/jpeg", "buffer": buf.getvalue()}
    )
    page.locator("form[enctype] button").first.click()
    expect(page.locator(".precheck-item").first.locator("img.photo")).to_have_count(1)
    code = page.locator("p .code").first.inner_text()

    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    staff = desk.new_page()
    staff.goto(f"{web}/staff/login")
    staff.fill("#username", "lin")
    staff.fill("#password", PASSWORD)
    staff.click("button.primary")
    staff.goto(f"{web}/staff/precheck/{code}")
    items = staff.locator(".precheck-item")
    for i in range(items.count()):
        item = staff.locator(f"#m{i}")
        if i == 1:
            item.locator("input[value=fix]").check()
            item.locator("input[name=note]").fill("请拍户口簿本人页，要看清住址")
        else:
            item.locator("input[value=ok]").check()
        item.locator("button.primary").click()
    desk.close()

    page.goto(f"{web}/bang/status?code={code}")
    expect(page.locator("#precheck-result")).to_contain_text("预审结果")
    expect(page.locator(".precheck-verdicts")).to_contain_text("请拍户口簿本人页")
    page.screenshot(path=str(screenshot_dir() / "res-precheck-result.png"), full_page=True)
    ctx.close()
