"""The help desk in real browsers: two staff and a resident, on a real web process.

A handoff notifies the online agent only (the desktop Notification, the tab title, the banner),
the chat list sits beside the conversation on a desktop screen, and a canned reply with
variables, edited before sending, reaches the resident.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import screenshot_dir, web_without_rasa
from tests.e2e.test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.e2e
PASSWORD = "desk-browser-password"
# Records each desktop notification the page raises (the OS side of it is the browser's, not ours).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__notes = [];
  if (!Real) { return; }
  function Recorder(title, options) { window.__notes.push(title); return new Real(title, options); }
  Object.defineProperty(Recorder, "permission", { get: () => Real.permission });
  Recorder.requestPermission = (...a) => Real.requestPermission(...a);
  window.Notification = Recorder;
})();
"""


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("desk-browser")
    with web_without_rasa(tmp, [("lin", "小林", "agent"), ("wu", "小吴", "agent")], PASSWORD) as url:
        yield url


def test_handoff_notifies_the_online_agent_only_and_a_canned_reply_reaches_the_resident(web: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = screenshot_dir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)

        def staff_page(username: str) -> Any:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            context.grant_permissions(["notifications"], origin=web)
            context.add_init_script(RECORD_NOTIFICATIONS)
            page = context.new_page()
            page.goto(f"{web}/staff")
            page.fill("#username", username)
            page.fill("#password", PASSWORD)
            page.click("button.primary")
            expect(page.locator("#queue-count")).to_have_text("0")
            return page

        lin = staff_page("lin")
        lin.click("button.presence-online")  # 在线; 小吴 stays 离开
        expect(lin.locator("button.presence-online")).to_have_attribute("aria-pressed", "true")
        wu = staff_page("wu")
        for page in (lin, wu):
            expect(page.locator("body")).to_have_attribute("data-live", "1", timeout=15000)
        lin_title, wu_title = lin.title(), wu.title()

        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        resident = phone.new_page()
        resident.goto(f"{web}/p/NA010001")
        resident.fill("#chat-text", "换身份证要带什么")
        resident.click(".chat-form button.primary")
        expect(resident.locator(".answer-card").first).to_be_visible()
        resident.click(".chat-form button.human")
        expect(resident.locator(".chat-mode")).to_contain_text("正在为您转接人工")

        # The online agent: banner, title, desktop notification, and the chat marked as theirs.
        expect(lin.locator("#alert")).to_contain_text("新的转人工", timeout=15000)
        assert lin.title().startswith("(1) 新的转人工") and lin.title() != lin_title
        assert lin.evaluate("window.__notes") == ["新的转人工"]
        expect(lin.locator("#queue li.offered")).to_contain_text("派给您")
        lin.screenshot(path=str(shots / "20-desk-handoff-notified.png"), full_page=True)
        # The away agent sees the queue grow, and nothing rings.
        expect(wu.locator("#queue-count")).to_have_text("1", timeout=15000)
        wu.wait_for_timeout(2500)  # one more live update
        assert wu.evaluate("window.__notes") == [] and wu.title() == wu_title
        assert wu.locator("#alert").is_hidden()

        # A personal canned reply with variables.
        lin.goto(f"{web}/staff/canned")
        lin.fill("#title", "告知大厅")
        lin.fill("#body", "您好，您家在{门牌地址}。离您最近的是{最近大厅}。")
        lin.click("#canned-new button.primary")
        expect(lin.locator("#canned-list")).to_contain_text("告知大厅")

        lin.goto(f"{web}/staff")
        lin.click("#queue button.primary")
        expect(lin.locator("#transcript")).to_contain_text("换身份证要带什么")
        # Desktop: the chat list and the conversation side by side.
        panel = lin.locator("#panel").bounding_box()
        main = lin.locator(".desk-main").bounding_box()
        assert panel and main
        assert panel["x"] + panel["width"] <= main["x"] + 1, "the list is left of the conversation"
        assert abs(panel["y"] - main["y"]) < 5, "and they start at the same height"
        expect(lin.locator("#mine li.current")).to_have_count(1)
        lin.screenshot(path=str(shots / "21-desk-chat-side-by-side.png"), full_page=True)

        lin.select_option("#use", label="【我的】告知大厅")
        lin.click(".canned-pick button")
        draft = lin.locator("#reply-text")
        expect(draft).to_contain_text("南安市溪美街道")
        assert "{" not in draft.input_value()
        draft.fill(draft.input_value().replace("您好", "您好，我是小林"))
        lin.screenshot(path=str(shots / "22-desk-canned-inserted.png"), full_page=True)
        lin.click("#reply button.primary")
        expect(resident.locator(".msg.staff").last).to_contain_text(
            "您好，我是小林，您家在南安市溪美街道", timeout=15000
        )
        expect(resident.locator(".msg.staff").last).to_contain_text("离您最近的是")
        resident.screenshot(path=str(shots / "23-resident-canned-reply.png"), full_page=True)

        # The console on a phone: stacked, large tap targets, no sideways scrolling.
        small = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        small.add_cookies(lin.context.cookies())
        console = small.new_page()
        console.goto(f"{web}/staff")
        assert console.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        heights = console.eval_on_selector_all("button", "els => els.map(e => e.getBoundingClientRect().height)")
        assert heights and min(h for h in heights if h > 0) >= 44
        console.screenshot(path=str(shots / "24-desk-on-a-phone.png"), full_page=True)
        browser.close()
