"""Online pre-check (在线预审): upload limits, EXIF stripped, staff verdicts, the result by code (page, WeChat)."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.web.test_staff import add_staff, csrf_of, login
from tests.web.test_wechat_media import photo_with_gps
from web.db.engine import make_engine
from web.db.store import Store
from web.db.tables import utcnow
from web.helpdesk.images import PhotoTooLarge, clean_photo

pytestmark = pytest.mark.integration


def new_precheck(client: Any, item: str = "id-card-renew") -> str:
    r = client.post(
        "/bang",
        data={
            "item": item,
            "name": "陈阿婆",
            "phone": "13912345678",
            "preferred_time": "上午",
            "plate": "NA010001",
            "kind": "precheck",
        },
    )
    assert r.status_code == 200 and 'id="go-precheck"' in r.text
    code = re.search(r'class="code">([0-9A-Z-]+)<', r.text)
    assert code
    return code[1]


def upload(client: Any, code: str, material: int, data: bytes, name: str = "p.jpg", kind: str = "image/jpeg") -> Any:
    return client.post(
        "/bang/precheck/upload",
        data={"code": code, "material": str(material)},
        files={"photo": (name, data, kind)},
        follow_redirects=False,
    )


def test_clean_photo_strips_exif_and_reencodes() -> None:
    raw = photo_with_gps()
    assert Image.open(io.BytesIO(raw)).getexif()  # the phone's photo carries EXIF (GPS, make)
    clean = clean_photo(raw, 5_000_000)
    img = Image.open(io.BytesIO(clean))
    assert img.format == "JPEG" and not img.getexif() and img.size == (640, 480)
    assert b"PhoneMaker" not in clean and b"Exif" not in clean


def test_clean_photo_turns_it_upright_and_shrinks_it() -> None:
    img = Image.new("RGB", (3000, 1000), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° to show
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    clean = Image.open(io.BytesIO(clean_photo(out.getvalue(), 5_000_000)))
    assert clean.size[0] < clean.size[1] and max(clean.size) <= 2000


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "没有收到图片"),
        (b"%PDF-1.4 not a photo", "不是能打开的照片"),
        (b"GIF89a" + b"\x00" * 40, "不是能打开的照片"),
    ],
)
def test_clean_photo_refuses_what_is_not_a_photo(data: bytes, error: str) -> None:
    with pytest.raises(Exception, match=error):
        clean_photo(data, 5_000_000)


def test_clean_photo_refuses_gif_and_too_large() -> None:
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with pytest.raises(Exception, match="只收 JPG"):
        clean_photo(gif.getvalue(), 5_000_000)
    with pytest.raises(PhotoTooLarge):
        clean_photo(photo_with_gps(), 1000)


def test_upload_limits_over_http(client: Any) -> None:
    code = new_precheck(client)
    limit = client.app.state.settings.upload_max_bytes
    r = upload(client, code, 0, b"\xff\xd8" + b"0" * (limit + 10))
    assert r.status_code == 413 and "太大" in r.text
    r = upload(client, code, 0, b"hello", "x.txt", "text/plain")
    assert r.status_code == 400 and "不是能打开的照片" in r.text
    r = upload(client, code, 99, photo_with_gps())
    assert r.status_code == 400 and "没有第 100 项材料" in r.text
    # Bodies past the upload limit never reach the route; other routes keep the small limit.
    big = client.post("/api/chat", content=b"x" * (70 * 1024), headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    assert client.app.state.store.uploads.of_request(code) == []  # nothing kept of the refused ones


def test_precheck_result_is_visible_to_the_resident_by_code(client: Any) -> None:
    code = new_precheck(client)
    page = client.get("/bang/precheck", params={"code": code})
    assert page.status_code == 200 and "居民户口簿" in page.text and "还没有看完" in page.text
    count = len(re.findall(r'name="material" value="(\d+)"', page.text))
    assert count >= 2
    r = upload(client, code, 0, photo_with_gps())
    assert r.status_code == 303
    store = client.app.state.store
    [photo] = store.uploads.of_request(code)
    stored = (store.uploads.folder / photo.path).read_bytes()
    assert not Image.open(io.BytesIO(stored)).getexif()
    assert not str(store.uploads.folder).startswith(str(Path("web").resolve()))  # outside the web roots
    assert photo.path.startswith(photo.expires_at.date().isoformat() + "/")  # the expiry day names the folder
    # The resident sees the own photo only with the code.
    assert client.get(f"/bang/precheck/photo/{photo.token}", params={"code": code}).status_code == 200
    assert client.get(f"/bang/precheck/photo/{photo.token}", params={"code": "AAAA-AAAA-AAAA-AAAA"}).status_code == 404
    # Staff mark every material; 缺 / 需补正 need a note.
    add_staff(client, "lin")
    login(client, "lin")
    staff = client.get(f"/staff/precheck/{code}")
    assert staff.status_code == 200 and f"/staff/uploads/{photo.token}" in staff.text and "溪一社区" in staff.text
    csrf = csrf_of(staff.text)
    bad = client.post(f"/staff/precheck/{code}/1", data={"csrf": csrf, "verdict": "fix", "note": ""})
    assert bad.status_code == 400 and "说明" in bad.text
    for i in range(count):
        verdict, note = ("fix", "照片反光看不清，请重拍") if i == 1 else ("ok", "")
        r = client.post(
            f"/staff/precheck/{code}/{i}", data={"csrf": csrf, "verdict": verdict, "note": note}, follow_redirects=False
        )
        assert r.status_code == 303
    status = client.get("/bang/status", params={"code": code})
    assert "需补正" in status.text and "照片反光看不清，请重拍" in status.text and "合格" in status.text
    precheck_page = client.get("/bang/precheck", params={"code": code})
    assert "预审结果：" in precheck_page.text and "请按提示补齐" in precheck_page.text


def test_precheck_result_in_wechat_by_code(settings: Any, kb: Any, tmp_path: Path) -> None:
    from tests.web.test_wechat import reply_content, sign, text_xml, wechat_client

    with wechat_client(settings, kb, tmp_path) as wx:
        code = new_precheck(wx)
        store = wx.app.state.store
        n = len(wx.app.state.kb.answer("id-card-renew").checklist)
        for i in range(n):
            store.prechecks.mark(code, i, "ok" if i else "missing", "" if i else "缺户口簿首页", None)
        r = wx.post("/wechat", params=sign(), content=text_xml(code.lower().replace("-", " "), 7001))
        text = reply_content(r.text)
        assert code in text and "在线预审" in text and "缺户口簿首页" in text and "预审结果" in text
        r = wx.post("/wechat", params=sign(), content=text_xml("ZZZZ-ZZZZ-ZZZZ-ZZZZ", 7002))
        assert "没有找到查询码" in reply_content(r.text)


def test_expired_uploads_are_purged_with_their_files(db_url: str, tmp_path: Path) -> None:
    store = Store(make_engine(db_url), uploads=tmp_path / "uploads", upload_retention_days=7)
    store.migrate()
    past = utcnow() - dt.timedelta(days=8)
    old = store.uploads.save(b"old", purpose="precheck", agency_code="X", material=0, now=past)
    old_file = store.uploads.folder / old.path
    assert old_file.exists()
    fresh = store.uploads.save(b"new", purpose="precheck", agency_code="X", material=0)  # saving purges first
    assert not old_file.exists() and not old_file.parent.exists()
    assert [u.token for u in store.uploads.of_request("X")] == [fresh.token]
    with pytest.raises(Exception, match="已经删除"):
        store.uploads.get(old.token)
    assert store.uploads.purge_expired(utcnow() + dt.timedelta(days=8)) == 1
    assert not (store.uploads.folder / fresh.path).exists()
    store.engine.dispose()
