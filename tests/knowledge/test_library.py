"""The shipped guide library is complete, and broken content gets precise messages."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from knowledge.library import check_library
from web.cli import main

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "fixtures" / "broken"

pytestmark = pytest.mark.unit


def test_shipped_library_passes_every_check() -> None:
    lib, problems = check_library(ROOT / "guides")
    assert problems == []
    assert lib is not None
    assert len(lib.guides) == len(lib.catalogue) == 73


def test_shipped_catalogue_is_the_shared_one() -> None:
    shared = ROOT.parent / "shared" / "catalogue" / "items.yaml"
    assert shared.exists(), "../shared must sit beside the clone, as in CI"
    assert (ROOT / "guides" / "catalogue.yaml").read_bytes() == shared.read_bytes()


def test_every_guide_has_what_a_resident_needs() -> None:
    lib, _ = check_library(ROOT / "guides")
    assert lib is not None
    for code, g in lib.guides.items():
        assert len(g.asks) >= 8, code
        assert len(g.faqs) >= 3, code
        assert g.steps and g.where.note and g.time_limit.promised, code
        assert g.fee.free or g.fee.amount, code
        assert g.online.channels or g.online.note, code
        assert g.sample and g.source.name and g.review.compiled_on <= dt.date.today(), code
        # Nobody has checked the sample guides at a window: they must say draft.
        assert g.review.status == "draft" and not g.review.verified_by, code
        for s in g.situations:
            for m in s.materials:
                assert m.source, (code, s.id, m.name)
        if g.bundle:
            assert all(m in lib.guides for m in g.members), code


def test_halls_and_plates_meet_the_sample_city_size() -> None:
    lib, _ = check_library(ROOT / "guides")
    assert lib is not None
    levels = [h.level.value for h in lib.halls.values()]
    assert levels.count("city") == 1
    assert levels.count("town") == 26  # every town and street of 南安市
    assert levels.count("village") >= 20
    assert len(lib.plates) >= 200
    assert len({p.town for p in lib.plates.values()}) == 26
    assert all(h.datum == "GCJ-02" for h in lib.halls.values())


def test_broken_fixtures_report_every_problem_with_file_line_and_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["guides", "check", str(BROKEN)])
    out = capsys.readouterr().out
    assert code == 1
    assert "Traceback" not in out
    expected = [
        "broken/items/id-card-lost.yaml:4: (syntax): YAML syntax error: expected ',' or ']', but got ':'",
        "broken/items/id-card-renew.yaml:20: situations[0].materials[0].form: Input should be '原件', '复印件', "
        "'原件和复印件', '电子' or '现场填写'",
        "broken/items/id-card-renew.yaml:2: fee: Field required (expected: a value for this required field)",
        "broken/items/id-card-renew.yaml:117: review.compiled_on: Input should be a valid date or datetime, "
        "month value is outside expected range of 1-12",
        "broken/items/id-card-renew.yaml:86: prerequisites[0]: unknown item code 'id-card-lots'",
        "broken/halls.yaml:14: halls[0].hours[0].sessions[1]: opening 14:30-12:30 ends before it starts",
        "broken/plates.csv:3: lng: Input should be a valid number",
        "broken/plates.csv:4: code: String should match pattern",
        "broken/items/id-card-renewal.yaml:2: code: 'id-card-renewal' is not in the catalogue",
        "broken/items/hukou-change.yaml: (file): catalogue item hukou-change (户口登记项目变更更正) has no guide",
    ]
    for line in expected:
        assert line in out, line
    assert "hint: did you mean id-card-renew, id-card-lost?" in out
    assert "hint: two capital letters and six digits, e.g. NA010001" in out
    assert "hint: write the date as YYYY-MM-DD" in out
    assert "10 problem(s) found" in out


def test_duplicate_ask_across_guides_is_reported(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "guides"
    shutil.copytree(ROOT / "guides", root)
    lost = root / "items" / "id-card-lost.yaml"
    # The same ask as id-card-renew, written with a typo and traditional characters.
    lost.write_text(
        lost.read_text(encoding="utf-8").replace("asks:\n", "asks:\n  - 身分證到期了咋整\n", 1), encoding="utf-8"
    )
    _, problems = check_library(root)
    messages = [str(p) for p in problems]
    assert len(messages) == 1
    # Guides are checked in name order: the later one (id-card-renew) is the one reported.
    assert messages[0].startswith(
        "guides/items/id-card-renew.yaml:145: asks[0]: the ask '身份证到期了咋整' is also in the guide id-card-lost"
    )


def test_empty_and_non_utf8_files_are_content_errors(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "guides"
    shutil.copytree(ROOT / "guides", root)
    (root / "items" / "passport.yaml").write_text("", encoding="utf-8")
    (root / "items" / "dibao.yaml").write_bytes("code: dibao\ntitle: 低保".encode("gbk"))
    _, problems = check_library(root)
    text = "\n".join(str(p) for p in problems)
    assert "guides/items/passport.yaml: (file): the file is empty" in text
    assert "guides/items/dibao.yaml: (file): not UTF-8 text" in text


def _guides_copy(tmp_path: Path) -> Path:
    root = tmp_path / "guides"
    shutil.copytree(ROOT / "guides", root, ignore=shutil.ignore_patterns("asks", "referrals"))
    return root


def test_verified_without_a_verifier_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _guides_copy(tmp_path)
    path = root / "items" / "id-card-renew.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("status: draft", "status: verified"), encoding="utf-8")
    assert main(["guides", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert "items/id-card-renew.yaml" in out and "review: status: verified needs verified_by" in out


def test_a_verified_guide_names_who_and_when_and_is_due_after_next_review(tmp_path: Path) -> None:
    root = _guides_copy(tmp_path)
    path = root / "items" / "id-card-renew.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "status: draft",
        "status: verified\n  verified_by: 陈晓梅（南安市行政服务中心公安窗口）\n"
        "  verified_on: 2026-11-20\n  next_review: 2026-11-25",
    )
    path.write_text(text, encoding="utf-8")
    lib, problems = check_library(root)
    assert lib is not None, problems
    review = lib.guides["id-card-renew"].review
    assert review.verified_by.startswith("陈晓梅") and review.verified_on == dt.date(2026, 11, 20)
    assert review.due(dt.date(2026, 12, 1)) and not review.due(dt.date(2026, 11, 24))
    assert not lib.guides["id-card-lost"].review.due(
        dt.date(2030, 1, 1)
    )  # a draft is never "due": it was never checked


def test_slots_file_names_known_halls_and_items_they_handle(tmp_path: Path) -> None:
    """guides/slots.yaml (预约): an unknown hall, or an item a hall does not handle, is a precise problem."""
    root = tmp_path / "guides"
    shutil.copytree(ROOT / "guides", root)
    (root / "slots.yaml").write_text(
        "halls:\n"
        "- hall: nanan-centre\n"
        "  groups: [{id: grp-a, name: 甲, capacity: 2, items: [id-card-renew]}]\n"
        "- level: town\n"
        "  groups: [{id: grp-b, name: 乙, capacity: 2, items: [id-card-renew, passport]}]\n",
        encoding="utf-8",
    )
    lib, problems = check_library(root)
    assert lib is None
    text = [str(p) for p in problems]
    assert len(problems) == 2, text
    assert "slots.yaml:2" in text[0] and "unknown hall 'nanan-centre'" in text[0] and "nanan-city-centre" in text[0]
    assert "halls[1].groups[0].items[1]" in text[1] and "'passport'" in text[1]
    lib, _ = check_library(ROOT / "guides")
    assert lib is not None and lib.slots.halls and lib.slots.days_ahead == 7


@pytest.mark.parametrize("rel", ["asks/w9/id-card-renew.yaml", "referrals/extra.yaml", "lookups.yaml", "items/x.yaml"])
def test_every_file_the_index_is_built_from_changes_its_hash(tmp_path: Path, rel: str) -> None:
    """A new ask, referral or look-up makes the index stale, as a guide edit does."""
    from knowledge.library.loaders import content_hash

    (tmp_path / "items").mkdir()
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text("items: []\n", encoding="utf-8")
    before = content_hash(tmp_path, catalogue)
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x: 1\n", encoding="utf-8")
    assert content_hash(tmp_path, catalogue) != before
