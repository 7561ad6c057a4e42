"""Real browser (headless Debian Chromium via Playwright): a resident and a staff member, two contexts.

Resident asks for a person on a plate page → staff logs in, claims, sees the
transcript, replies → the resident sees the reply live → staff resolves →
the resident rates. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import screenshot_dir, web_without_rasa

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-test-password"
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"><b>粗</b>\' OR 1=1 --'


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser")
    with web_without_rasa(tmp, [("lin", "小林", "agent")], PASSWORD) as url:
        yield url


def test_resident_and_staff_in_two_browsers(web: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = screenshot_dir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        phone = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
        )
        desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        resident = phone.new_page()
        resident.goto(f"{web}/p/NA010001")
        expect(resident.locator("h1")).to_contain_text("南安市溪美街道")
        expect(resident.locator(".trust")).to_contain_text("menpai.nanan.gov.cn")
        resident.screenshot(path=str(shots / "01-plate-page.png"), full_page=True)

        resident.fill("#chat-text", XSS)
        resident.click(".chat-form button.primary")
        resident.fill("#chat-text", "换身份证要带什么")
        resident.click(".chat-form button.primary")
        expect(resident.locator(".answer-card").first).to_be_visible()
        expect(resident.locator(".msg.me").first).to_have_text(XSS)  # shown as text on the resident side too
        resident.click(".chat-form button.human")
        expect(resident.locator(".chat-mode")).to_contain_text("正在为您转接人工")
        resident.screenshot(path=str(shots / "02-resident-waiting.png"), full_page=True)

        staff = desk.new_page()
        staff.goto(f"{web}/staff")
        staff.fill("#username", "lin")
        staff.fill("#password", PASSWORD)
        staff.click("button.primary")
        expect(staff.locator("#queue-count")).to_have_text("1")
        staff.click("#queue button.primary")
        expect(staff.locator("#transcript")).to_contain_text("换身份证要带什么")
        expect(staff.locator("#transcript")).to_contain_text("机器人")
        # A resident's HTML is inert in the console: shown as text, never run.
        expect(staff.locator("#transcript")).to_contain_text("<script>window.__xss=1</script>")
        assert staff.evaluate("window.__xss === undefined")
        assert staff.locator("#transcript img, #transcript script").count() == 0
        staff.screenshot(path=str(shots / "03-staff-chat.png"), full_page=True)
        staff.fill("#reply-text", "您好，我是小林。换身份证请带户口本和旧证。")
        staff.click("#reply button.primary")

        expect(resident.locator(".msg.staff").last).to_contain_text("我是小林", timeout=15000)
        resident.screenshot(path=str(shots / "04-resident-sees-reply.png"), full_page=True)

        staff.click("form[action$='/resolve'] button")
        rating = resident.locator(".rating").last
        expect(rating).to_contain_text("请为这次服务打个分", timeout=15000)
        rating.get_by_role("button", name="非常满意").click()
        expect(rating).to_contain_text("谢谢您的评价")
        resident.screenshot(path=str(shots / "05-resident-rated.png"), full_page=True)
        browser.close()


def test_plate_page_is_usable_on_a_small_phone(web: str) -> None:
    """Large type and big tap targets: every button and link in the main actions is at least 44 px tall."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 360, "height": 740})
        page.goto(f"{web}/p/NA010001")
        font = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert font >= 18
        heights = page.eval_on_selector_all(".btn, button", "els => els.map(e => e.getBoundingClientRect().height)")
        assert heights and min(h for h in heights if h > 0) >= 44
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "no sideways scrolling on a phone"
        page.screenshot(path=str(screenshot_dir() / "06-small-phone.png"), full_page=True)
        browser.close()


def test_guide_flow_on_a_phone_and_in_large_text(web: str) -> None:
    """The illustrated flow: lanes stack on a phone, icons drawn, nothing scrolls sideways, also in 大字版."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 360, "height": 740})
        for size in ("normal", "large"):
            page.goto(f"{web}/text-size?size={size}&next=/g/id-card-renew?s=damaged")
            assert page.locator(".trips-badge strong").first.is_visible()
            steps = page.locator(".flow2 .fstep")
            assert steps.count() >= 4
            icons = page.eval_on_selector_all(".flow2 .ficon", "els => els.map(e => e.getBoundingClientRect().width)")
            assert icons and min(icons) >= 24, "every step has a drawn icon"
            lanes = page.locator(".lanes.two").first
            if lanes.count():
                boxes = lanes.locator(".lane").evaluate_all("els => els.map(e => e.getBoundingClientRect().left)")
                assert len(set(round(b) for b in boxes)) == 1, "lanes stack on a phone"
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"no sideways scrolling ({size} text)"
            page.screenshot(path=str(screenshot_dir() / f"08-guide-flow-{size}.png"), full_page=True)
        page.set_viewport_size({"width": 1024, "height": 800})
        page.goto(f"{web}/g/id-card-renew?s=damaged")
        lanes = page.locator(".lanes.two").first
        if lanes.count():
            boxes = lanes.locator(".lane").evaluate_all("els => els.map(e => e.getBoundingClientRect().left)")
            assert len(set(round(b) for b in boxes)) == 2, "the online path beside the hall path on a wide screen"
        page.goto(f"{web}/text-size?size=normal&next=/")
        browser.close()


def test_phone_plate_page_hall_state_navigation_answer_and_handoff(web: str) -> None:
    """Phone viewport: nearest hall with the right open state → ask → checklist → nav link → 找人工."""
    import datetime as dt
    from urllib.parse import parse_qs, urlparse

    from playwright.sync_api import expect, sync_playwright

    from knowledge.halls import nearest_halls
    from knowledge.library import load_library
    from knowledge.schema import HallLevel
    from knowledge.settings import Settings

    settings = Settings()
    lib = load_library(settings.guides_path, settings.catalogue)
    plate = lib.plates["NA130001"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
        page.goto(f"{web}/p/{plate.code}")
        expected = nearest_halls(
            [h for h in lib.halls.values() if h.level is not HallLevel.VILLAGE],
            plate.lng,
            plate.lat,
            dt.datetime.now(dt.UTC),
            lib.holidays,
            limit=1,
        )[0]
        first = page.locator(".halls .hall").first
        expect(first.locator("h3")).to_have_text(expected.hall.name)
        expect(first).to_have_class(re.compile(f"state-{expected.status.state.value}"))
        amap = first.locator("a", has_text="高德导航").get_attribute("href") or ""
        assert parse_qs(urlparse(amap).query)["to"][0].startswith(f"{expected.hall.lng},{expected.hall.lat},")
        baidu = first.locator("a", has_text="百度导航").get_attribute("href") or ""
        assert "coord_type=bd09ll" in baidu
        page.fill("#chat-text", "孩子刚出生怎么上户口")
        page.click(".chat-form button.primary")
        card = page.locator(".chat .answer-card").last
        expect(card).to_be_visible()
        expect(card.locator(".checklist li").first).to_be_visible()
        page.screenshot(path=str(screenshot_dir() / "07-phone-answer.png"), full_page=True)
        page.click(".chat-form button.human")
        expect(page.locator(".chat-mode")).to_contain_text("正在为您转接人工")
        page.screenshot(path=str(screenshot_dir() / "08-phone-handoff.png"), full_page=True)
        browser.close()
