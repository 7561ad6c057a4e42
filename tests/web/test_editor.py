"""The editor's loop through the app: roles, the YAML API, live publishing, history, reports, unanswered asks.

Every app here gets its own copy of the library (publishing changes a library in place,
and the session's ``kb`` is shared by the other tests).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.library import Library, check_library
from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from tests.web.test_staff import add_staff, csrf_of, login
from web.app import create_app
from web.db.engine import make_engine
from web.db.store import Store
from web.db.tables import StaffRole
from web.helpdesk.editor import GuideEditor, append_ask, export_guides, import_guides

pytestmark = pytest.mark.integration
CODE = "id-card-renew"
FEE_BLOCK = re.compile(r"^fee:\n(?:  .*\n)+", re.M)


def private_library(lib: Library) -> Library:
    """A library of its own: publishing puts guides into it in place."""
    return dataclasses.replace(lib, guides=dict(lib.guides), asks=list(lib.asks))


def make_client(settings: Settings, kb: KnowledgeBase, db_url: str) -> TestClient:
    own = KnowledgeBase(private_library(kb.library), kb.index, settings)
    return TestClient(create_app(settings.model_copy(update={"database_url": db_url}), kb=own))


@pytest.fixture()
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'editor.db'}"


@pytest.fixture()
def app_client(settings: Settings, kb: KnowledgeBase, db: str) -> Iterator[TestClient]:
    with make_client(settings, kb, db) as c:
        yield c


def editor_login(client: Any, username: str = "ed", role: StaffRole = StaffRole.EDITOR) -> str:
    """Log an editor in; returns the session's CSRF token."""
    add_staff(client, username, role)
    login(client, username)
    return csrf_of(client.get("/staff/editor").text)


def published_text(client: Any, code: str = CODE) -> str:
    r = client.get(f"/staff/api/guides/{code}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/yaml")
    return str(r.text)


def with_fee(text: str, amount: str) -> str:
    new, n = FEE_BLOCK.subn(f"fee:\n  free: false\n  amount: {amount}\n  basis: 窗口确认\n", text, count=1)
    assert n == 1
    return new


def put(client: Any, text: str, csrf: str | None, code: str = CODE, note: str = "") -> Any:
    headers = {"Content-Type": "text/yaml; charset=utf-8"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return client.put(f"/staff/api/guides/{code}?note={note}", content=text.encode("utf-8"), headers=headers)


def test_editor_page_and_api_are_forbidden_to_agents(app_client: Any) -> None:
    add_staff(app_client, "lin")
    login(app_client, "lin")
    assert app_client.get("/staff/editor").status_code == 403
    r = app_client.get(f"/staff/api/guides/{CODE}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert put(app_client, "code: x\n", "whatever").status_code == 403


def test_editor_api_needs_login(app_client: Any) -> None:
    r = app_client.get(f"/staff/api/guides/{CODE}")
    assert r.status_code == 401 and r.json()["error"] == {
        "code": "login_required",
        "message": "请先登录工作人员后台",
        "status": 401,
    }


def test_editor_page_lists_every_guide_with_review_state(app_client: Any) -> None:
    editor_login(app_client)
    page = app_client.get("/staff/editor").text
    lib = app_client.app.state.kb.library
    assert page.count('<tr data-code="') == len(lib.guides)
    assert lib.guides[CODE].title in page and "草稿" in page and "文件（未在线改过）" in page


def test_staff_console_sends_editors_to_their_page(app_client: Any) -> None:
    editor_login(app_client)
    r = app_client.get("/staff", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/editor"


def test_put_with_a_bad_fee_returns_422_with_the_fee_problem(app_client: Any) -> None:
    csrf = editor_login(app_client)
    bad = FEE_BLOCK.sub("fee: {free: false}\n", published_text(app_client), count=1)
    r = put(app_client, bad, csrf)
    assert r.status_code == 422
    body = r.json()
    assert body["error"]["code"] == "invalid_guide" and body["error"]["status"] == 422
    fee = [p for p in body["problems"] if p["field"] == "fee"]
    assert fee and fee[0]["file"].endswith(f"/items/{CODE}.yaml") and fee[0]["line"]
    assert set(fee[0]) == {"file", "line", "field", "message", "expected", "hint"}
    assert "amount" in fee[0]["message"]
    assert app_client.get(f"/g/{CODE}").text.count("<dd>20元</dd>") >= 1, "nothing was published"


def test_put_with_an_unknown_code_reference_names_it(app_client: Any) -> None:
    csrf = editor_login(app_client)
    text = published_text(app_client).replace("follow_ups: []", "follow_ups: [no-such-item]")
    text = re.sub(r"^prerequisites:.*$", "prerequisites:\n  - id-card-renw", text, count=1, flags=re.M)
    r = put(app_client, text, csrf)
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert any(p["field"].startswith("prerequisites") and "id-card-renew" in p["hint"] for p in problems)


def test_put_without_the_csrf_header_is_refused(app_client: Any) -> None:
    editor_login(app_client)
    text = with_fee(published_text(app_client), "25元")
    assert put(app_client, text, None).status_code == 403
    assert put(app_client, text, "forged-token").status_code == 403
    assert app_client.app.state.editor.current_version(CODE) == 0


def test_valid_put_changes_the_fee_on_the_guide_page_at_once(app_client: Any) -> None:
    csrf = editor_login(app_client)
    r = put(app_client, with_fee(published_text(app_client), "25元"), csrf, note="窗口确认")
    assert r.status_code == 200 and r.json() == {"code": CODE, "version": 1, "changed": True}
    page = app_client.get(f"/g/{CODE}").text
    assert "<dt>费用</dt><dd>25元</dd>" in page and "<dd>20元</dd>" not in page
    answer = app_client.post("/api/ask", json={"q": "身份证到期了换新证要多少钱"}).json()["answer"]
    assert answer["item"] == CODE and answer["fee"] == "25元"
    assert "amount: 25元" in published_text(app_client)
    again = put(app_client, published_text(app_client), csrf)  # the same text again publishes nothing
    assert again.json() == {"code": CODE, "version": 1, "changed": False}


def test_plate_page_cache_is_cleared_on_publish(app_client: Any) -> None:
    csrf = editor_login(app_client)
    app_client.get("/p/NA010001")
    assert app_client.app.state.page_cache._pages
    title = app_client.app.state.kb.library.guides[CODE].title
    text = published_text(app_client).replace(f"title: {title}", "title: 换身份证（编辑改过的标题）", 1)
    assert put(app_client, text, csrf).status_code == 200
    assert not app_client.app.state.page_cache._pages
    assert "换身份证（编辑改过的标题）" in app_client.get("/p/NA010001").text


def test_history_lists_versions_with_the_author(app_client: Any) -> None:
    csrf = editor_login(app_client)
    original = published_text(app_client)
    put(app_client, with_fee(original, "25元"), csrf, note="first")
    put(app_client, with_fee(original, "30元"), csrf, note="second")
    versions = app_client.get(f"/staff/api/guides/{CODE}/history").json()["versions"]
    assert [(v["version"], v["author"], v["note"]) for v in versions] == [
        (2, "ed同志", "second"),
        (1, "ed同志", "first"),
        (0, "guides/ 文件", "初始内容（文件）"),
    ]
    page = app_client.get(f"/staff/editor/guides/{CODE}/history").text
    assert page.count('class="author">ed同志<') == 2
    diff = app_client.get(f"/staff/editor/guides/{CODE}/v/2").text
    assert "-  amount: 25元" in diff and "+  amount: 30元" in diff


def test_rollback_restores_the_old_text(app_client: Any) -> None:
    csrf = editor_login(app_client)
    original = published_text(app_client)
    put(app_client, with_fee(original, "25元"), csrf)
    put(app_client, with_fee(original, "30元"), csrf)
    r = app_client.post(f"/staff/api/guides/{CODE}/rollback/1", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["version"] == 3
    assert published_text(app_client) == with_fee(original, "25元")
    assert "<dd>25元</dd>" in app_client.get(f"/g/{CODE}").text
    # Back to the file through the page's form.
    r = app_client.post(f"/staff/editor/guides/{CODE}/rollback/0", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/staff/editor/guides/{CODE}?published=4"
    assert published_text(app_client) == original
    assert app_client.post(f"/staff/api/guides/{CODE}/rollback/2").status_code == 403  # no CSRF header


def test_second_app_on_the_same_database_shows_the_new_fee_after_refresh(
    app_client: Any, settings: Settings, kb: KnowledgeBase, db: str
) -> None:
    with make_client(settings, kb, db) as other:
        assert "<dd>20元</dd>" in other.get(f"/g/{CODE}").text
        csrf = editor_login(app_client)
        assert put(app_client, with_fee(published_text(app_client), "25元"), csrf).status_code == 200
        assert "<dd>20元</dd>" in other.get(f"/g/{CODE}").text  # not yet: its refresh has not run
        assert other.app.state.editor.refresh() == [CODE]
        assert "<dd>25元</dd>" in other.get(f"/g/{CODE}").text
        assert other.app.state.editor.refresh() == []  # nothing newer
    with make_client(settings, kb, db) as started_later:  # a copy started afterwards begins from the database
        assert "<dd>25元</dd>" in started_later.get(f"/g/{CODE}").text


def test_form_edit_shows_problems_above_the_editor(app_client: Any) -> None:
    csrf = editor_login(app_client)
    page = app_client.get(f"/staff/editor/guides/{CODE}").text
    assert 'class="yaml-editor"' in page and 'name="base" value="0"' in page
    bad = FEE_BLOCK.sub("fee: {free: false}\n", published_text(app_client), count=1).replace("\n", "\r\n")
    form = {"csrf": csrf, "text": bad, "base": "0", "note": "", "action": "publish"}
    r = app_client.post(f"/staff/editor/guides/{CODE}", data=form)
    assert r.status_code == 422
    assert r.text.index('data-field="fee"') < r.text.index('class="yaml-editor"')
    assert "怎么改：" in r.text and "fee: {free: false}" in r.text  # the text is kept as typed
    checked = app_client.post(f"/staff/editor/guides/{CODE}", data={**form, "action": "check"})
    assert checked.status_code == 200 and 'data-field="fee"' in checked.text


def test_form_publish_is_live_and_conflicts_are_refused(app_client: Any) -> None:
    csrf = editor_login(app_client)
    text = with_fee(published_text(app_client), "25元").replace("\n", "\r\n")  # as a browser sends it
    form = {"csrf": csrf, "text": text, "base": "0", "note": "窗口确认", "action": "publish"}
    r = app_client.post(f"/staff/editor/guides/{CODE}", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/staff/editor/guides/{CODE}?published=1"
    assert "\r" not in published_text(app_client)
    stale = app_client.post(f"/staff/editor/guides/{CODE}", data={**form, "text": text.replace("25元", "30元")})
    assert stale.status_code == 409 and "已有人发布了第 1 版" in stale.text


def test_preview_renders_the_unsaved_text_as_the_resident_page(app_client: Any) -> None:
    csrf = editor_login(app_client)
    text = with_fee(published_text(app_client), "99元")
    r = app_client.post(f"/staff/editor/guides/{CODE}/preview", data={"csrf": csrf, "text": text, "base": "0"})
    assert r.status_code == 200 and "preview-banner" in r.text and "<dd>99元</dd>" in r.text
    assert "<dd>20元</dd>" in app_client.get(f"/g/{CODE}").text, "a preview publishes nothing"
    assert app_client.app.state.kb.library.guides[CODE].fee.amount == "20元"


def test_resident_report_reaches_the_editor_queue_and_the_sixth_gets_429(app_client: Any) -> None:
    body = {"part": "fee", "text": "窗口说现在收25元，电话13912345678", "phone": "13912345678"}
    first = app_client.post(f"/api/guides/{CODE}/reports", json=body)
    assert first.status_code == 201 and first.json()["status"] == "open"
    form = app_client.post(f"/g/{CODE}/report", data={"part": "materials", "text": "不用带照片了", "s": "expired"})
    assert form.status_code == 200 and 'id="report-done"' in form.text
    for _ in range(3):
        assert app_client.post(f"/api/guides/{CODE}/reports", json=body).status_code == 201
    sixth = app_client.post(f"/api/guides/{CODE}/reports", json=body)
    assert sixth.status_code == 429 and int(sixth.headers["retry-after"]) > 0
    assert sixth.json()["error"]["code"] == "too_many_requests" and sixth.json()["error"]["status"] == 429
    assert app_client.post(f"/g/{CODE}/report", data={"part": "fee", "text": "x"}).status_code == 429

    csrf = editor_login(app_client)
    queue = app_client.get("/staff/editor").text
    assert '<span id="report-count">5</span>' in queue
    assert "139****5678" in queue and "13912345678" not in queue
    assert 'data-part="materials"' in queue and "情形 expired" in queue
    report_id = app_client.get("/staff/api/reports").json()["reports"][0]["id"]
    r = app_client.post(f"/staff/editor/reports/{report_id}/resolve", data={"csrf": csrf, "note": "已改为25元"})
    assert r.status_code == 200 and '<span id="report-count">4</span>' in r.text


def test_report_with_a_wrong_phone_is_refused_with_what_to_fix(app_client: Any) -> None:
    r = app_client.post(f"/api/guides/{CODE}/reports", json={"part": "fee", "text": "不对", "phone": "123"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    page = app_client.post(f"/g/{CODE}/report", data={"part": "", "text": "不对"})
    assert page.status_code == 400 and "请选一下哪部分有误" in page.text
    assert app_client.post("/api/guides/no-such-guide/reports", json={"part": "fee", "text": "x"}).status_code == 404


def test_guide_page_and_answer_card_offer_the_report_form(app_client: Any) -> None:
    page = app_client.get(f"/g/{CODE}").text
    assert '<details class="report no-print" id="report">' in page
    assert f'action="/g/{CODE}/report"' in page and '<option value="online"' in page
    card = app_client.post("/api/chat", json={"session": "report-link-1", "text": "换身份证要带什么"}).json()
    html = "".join(m.get("html", "") for m in card["messages"])
    assert 'class="report-link"' in html and "信息有误？" in html
    form = app_client.get(f"/g/{CODE}/report?s=expired")
    assert form.status_code == 200 and 'name="s" value="expired"' in form.text


def test_unanswered_question_added_as_an_ask_creates_a_version_with_it(app_client: Any) -> None:
    store = app_client.app.state.store
    question = "我家老人身份证坏了能不能上门办"
    for _ in range(2):
        store.analytics.record("unanswered", detail=question)
    csrf = editor_login(app_client)
    page = app_client.get("/staff/editor").text
    assert question in page and "<td>2</td>" in page
    r = app_client.post("/staff/editor/unanswered", data={"csrf": csrf, "text": question, "code": CODE})
    assert r.status_code == 200 and "加入 id-card-renew 的问法（第 1 版）" in r.text
    text = published_text(app_client)
    assert f"  - {question}\n" in text and "# 示例数据" in text  # appended in place, comments kept
    assert question in app_client.app.state.kb.library.guides[CODE].asks
    assert question not in app_client.get("/staff/editor").text.split('id="unanswered"')[1].split("</table>")[0]
    again = app_client.post("/staff/editor/unanswered", data={"csrf": csrf, "text": question, "code": "hukou-newborn"})
    assert again.status_code == 422 and "also in the guide id-card-renew" in again.text


def test_append_ask_keeps_comments_and_quotes_what_yaml_would_misread() -> None:
    text = "# note\ncode: x\nasks:\n  - 一\n  - 二  # kept\ntips: []\n"
    assert append_ask(text, "三") == "# note\ncode: x\nasks:\n  - 一\n  - 二  # kept\n  - 三\ntips: []\n"
    assert append_ask(text, "yes").splitlines()[5] == '  - "yes"'
    assert append_ask(text, "问: 要钱吗 #1").splitlines()[5] == '  - "问: 要钱吗 #1"'
    assert append_ask("code: x\nasks: [一, 二]\n", "三") == "code: x\nasks:\n- 一\n- 二\n- 三\n"


def test_versions_publish_refresh_and_history_on_the_database(db_url: str, kb: KnowledgeBase) -> None:
    """guide_versions on SQLite and PostgreSQL: two copies, one publishes, the other refreshes."""
    store = Store(make_engine(db_url))
    store.migrate()
    try:
        one, two = GuideEditor(store, private_library(kb.library)), GuideEditor(store, private_library(kb.library))
        author = store.staff.add("ed", "编辑小王", StaffRole.EDITOR, "x")
        text = with_fee(one.current_text(CODE), "25元")
        assert one.publish(CODE, text, author_id=author.id, note="n").version == 1
        assert one.publish(CODE, with_fee(text, "26元"), author_id=None).version == 2
        assert one.library.guides[CODE].fee.amount == "26元" and two.library.guides[CODE].fee.amount == "20元"
        assert two.refresh() == [CODE] and two.library.guides[CODE].fee.amount == "26元"
        assert [(v.version, v.author) for v in two.history(CODE)] == [
            (2, "命令行"),
            (1, "编辑小王"),
            (0, "guides/ 文件"),
        ]
        assert two.latest()[CODE].version == 2 and two.current_text(CODE) == with_fee(text, "26元")
    finally:
        store.engine.dispose()


def test_export_import_round_trip(tmp_path: Path, db: str, kb: KnowledgeBase) -> None:
    store = Store(make_engine(db))
    store.migrate()
    editor = GuideEditor(store, private_library(kb.library))
    editor.publish(CODE, with_fee(editor.current_text(CODE), "25元"), author_id=None)
    out = tmp_path / "export"
    written = dict(export_guides(editor, out))
    assert len(written) == len(kb.library.guides) and written[CODE] == 1
    assert "amount: 25元" in (out / f"{CODE}.yaml").read_text(encoding="utf-8")
    # What was exported passes `menpai guides check` in place of the files.
    root = tmp_path / "guides"
    _copy_guides(kb.library.root, root, out)
    _, problems = check_library(root)
    assert problems == []

    # Edit two exported files, break a third: two new versions, one refused with its problem.
    (out / f"{CODE}.yaml").write_text(with_fee(editor.current_text(CODE), "30元"), encoding="utf-8")
    other = "hukou-newborn"
    (out / f"{other}.yaml").write_text(editor.current_text(other).replace("title:", "title: 新", 1), encoding="utf-8")
    broken = "social-card-apply"
    (out / f"{broken}.yaml").write_text(FEE_BLOCK.sub("fee: {free: false}\n", editor.current_text(broken)), "utf-8")
    result = import_guides(editor, out)
    assert sorted((o.code, o.version) for o in result.published) == [(other, 1), (CODE, 2)]
    assert list(result.refused) == [broken] and result.refused[broken][0].field == "fee"
    assert result.refused[broken][0].file == str(out / f"{broken}.yaml")
    assert len(result.unchanged) == len(kb.library.guides) - 3
    assert editor.library.guides[CODE].fee.amount == "30元"
    store.engine.dispose()


def test_guides_export_and_import_commands(
    tmp_path: Path, db: str, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from knowledge import library
    from web import cli

    monkeypatch.setattr(library, "load_library", lambda *_a, **_k: private_library(kb.library))
    monkeypatch.setenv("MENPAI_DATABASE_URL", db)
    out = tmp_path / "export"
    assert cli.main(["guides", "export", str(out)]) == 0
    assert f"wrote {len(kb.library.guides)} guides" in capsys.readouterr().out
    path = out / f"{CODE}.yaml"
    path.write_text(with_fee(path.read_text(encoding="utf-8"), "25元"), encoding="utf-8")
    assert cli.main(["guides", "import", str(out)]) == 0
    assert f"published {CODE} version 1" in capsys.readouterr().out
    path.write_text(FEE_BLOCK.sub("fee: {free: false}\n", path.read_text(encoding="utf-8")), encoding="utf-8")
    assert cli.main(["guides", "import", str(out)]) == 1
    printed = capsys.readouterr().out
    assert f"refused {CODE}:" in printed and f"{path}:" in printed and ": fee: " in printed
    assert cli.main(["guides", "export", str(tmp_path / "again")]) == 0
    assert "amount: 25元" in (tmp_path / "again" / f"{CODE}.yaml").read_text(encoding="utf-8")


def _copy_guides(src: Path, dst: Path, items: Path) -> None:
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("items"))
    shutil.copytree(items, dst / "items")
