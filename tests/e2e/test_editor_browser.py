"""The editor's loop in a real browser (headless Debian Chromium via Playwright), on two web copies.

Two `menpai serve` processes share one database, as copies behind a load balancer do.
An editor fixes a fee on copy A; residents see it on A at once and on B after B's
refresh (1 s here); an invalid edit is refused with its field shown; an agent cannot
open the editor; a resident's report from the guide page reaches the editor queue.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest

from scripts.stack import ROOT, free_port, process
from tests.conftest import INDEX
from tests.e2e.conftest import screenshot_dir
from tests.e2e.test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.e2e
PASSWORD = "editor-test-password"
CODE = "id-card-renew"
TOP_FEE = re.compile(r"^fee:\n  free: false\n  amount: [^\n]+\n", re.M)
FEE_BLOCK = re.compile(r"^fee:\n(?:  .*\n)+", re.M)


@dataclass
class Copies:
    a: str
    b: str


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copies]:
    tmp = tmp_path_factory.mktemp("editor")
    (tmp / "var").mkdir()
    (tmp / "var" / "index").symlink_to(INDEX)
    env = {
        "MENPAI_VAR_PATH": str(tmp / "var"),
        "MENPAI_RASA_URL": "http://127.0.0.1:9",
        "MENPAI_ENVIRONMENT": "test",
        "MENPAI_GUIDE_REFRESH_SECONDS": "1",
    }
    for username, role in [("ed", "editor"), ("lin", "agent")]:
        subprocess.run(
            [str(ROOT / ".venv/bin/menpai"), "staff", "add", username, "--role", role],
            env={**os.environ, **env, "MENPAI_STAFF_PASSWORD": PASSWORD},
            check=True,
            capture_output=True,
        )
    with ExitStack() as stack:
        urls = []
        for name in ("a", "b"):
            port = free_port()
            stack.enter_context(
                process(
                    [str(ROOT / ".venv/bin/menpai"), "serve", "--port", str(port)],
                    env=env,
                    ready=f"http://127.0.0.1:{port}/healthz",
                    log=tmp / f"web-{name}.log",
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        yield Copies(*urls)


def _log_in(page: object, base: str, username: str) -> None:
    page.goto(f"{base}/staff/login")  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("button.primary")  # type: ignore[attr-defined]


def _fee_on(base: str) -> str:
    html = httpx.get(f"{base}/g/{CODE}", timeout=10).text
    m = re.search(r"<dt>费用</dt><dd>([^<]+)</dd>", html)
    assert m, "no fee on the guide page"
    return m.group(1)


def test_editor_fixes_a_fee_and_residents_see_it_without_restart(copies: Copies) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = screenshot_dir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        editor = desk.new_page()
        _log_in(editor, copies.a, "ed")
        expect(editor.locator("h1")).to_have_text("攻略编辑")  # an editor lands on the editor page
        editor.click(f'#guides tr[data-code="{CODE}"] a:text("编辑")')
        text = editor.locator("#yaml").input_value()
        assert TOP_FEE.search(text), "the guide's own fee block"
        editor.fill("#yaml", TOP_FEE.sub("fee:\n  free: false\n  amount: 25元\n", text, count=1))
        editor.fill("#note", "窗口确认工本费25元")
        editor.screenshot(path=str(shots / "editor-01-edit.png"), full_page=False)
        editor.click("#publish")
        expect(editor.locator("#message")).to_contain_text("已发布第 1 版")

        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
        resident = phone.new_page()
        resident.goto(f"{copies.a}/g/{CODE}")
        expect(resident.locator(".facts dd").first).to_have_text("25元")
        resident.screenshot(path=str(shots / "editor-02-resident-sees-fee.png"), full_page=False)

        deadline = time.monotonic() + 20  # the other copy: its refresh runs every second here
        while _fee_on(copies.b) != "25元" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _fee_on(copies.b) == "25元"

        editor.goto(f"{copies.a}/staff/editor/guides/{CODE}/history")
        expect(editor.locator('#history tr[data-version="1"] .author')).to_have_text("ed")
        browser.close()


def test_invalid_edit_is_refused_with_its_field_shown(copies: Copies) -> None:
    from playwright.sync_api import expect, sync_playwright

    before = _fee_on(copies.a)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        editor = browser.new_page(viewport={"width": 1280, "height": 900})
        _log_in(editor, copies.a, "ed")
        editor.goto(f"{copies.a}/staff/editor/guides/{CODE}")
        text = editor.locator("#yaml").input_value()
        editor.fill("#yaml", FEE_BLOCK.sub("fee: {free: false}\n", text, count=1))
        editor.click("#publish")
        problem = editor.locator('#problems .problem[data-field="fee"]')
        expect(problem).to_be_visible()
        expect(problem).to_contain_text("怎么改")
        assert "fee: {free: false}" in editor.locator("#yaml").input_value(), "the text typed is kept"
        editor.screenshot(path=str(screenshot_dir() / "editor-03-refused.png"), full_page=False)
        browser.close()
    assert _fee_on(copies.a) == before


def test_agent_cannot_open_the_editor(copies: Copies) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        agent = browser.new_page()
        _log_in(agent, copies.a, "lin")
        expect(agent.locator("#queue-count")).to_be_visible()
        assert agent.locator('a[href="/staff/editor"]').count() == 0
        response = agent.goto(f"{copies.a}/staff/editor")
        assert response is not None and response.status == 403
        expect(agent.locator("h1")).to_contain_text("没有权限")
        browser.close()


def test_resident_report_from_the_guide_page_reaches_the_editor_queue(copies: Copies) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
        resident = phone.new_page()
        resident.goto(f"{copies.b}/g/{CODE}")
        resident.click("#report summary")
        resident.select_option("#report-part", "materials")
        resident.fill("#report-text", "窗口说现在不用带户口本了")
        resident.fill("#report-phone", "13912345678")
        resident.click("#report button.primary")
        expect(resident.locator("#report-done")).to_be_visible()

        editor = browser.new_page(viewport={"width": 1280, "height": 900})
        _log_in(editor, copies.a, "ed")
        row = editor.locator("#report-queue tr", has_text="不用带户口本")
        expect(row).to_contain_text("要带的材料")
        expect(row).to_contain_text("139****5678")
        editor.screenshot(path=str(screenshot_dir() / "editor-04-report-queue.png"), full_page=False)
        row.locator('input[name="note"]').fill("已核实，改了材料清单")
        row.locator("button").click()
        expect(editor.locator("#report-queue")).not_to_contain_text("不用带户口本")
        browser.close()
