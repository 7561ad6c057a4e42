"""Facts in the guides that a review against national rules found wrong once: pinned.

Each test names the rule it rests on. A guide editor who changes one of these
must have a newer rule to point at.
"""

from __future__ import annotations

import re

import pytest

from knowledge.library import Library
from knowledge.schema import Guide


def _text(g: Guide) -> str:
    """Everything a resident reads in a guide (not the 依据 lines)."""
    parts = [g.summary, *g.eligibility, *(s.text for s in g.steps), *g.tips, g.online.note, g.where.note]
    parts += [f"{f.q} {f.a}" for f in g.faqs]
    for s in g.situations:
        parts += [s.name, s.when, s.notes, *(f"{m.name} {m.notes} {m.source}" for m in s.materials)]
    return "\n".join(parts)


def test_first_id_card_is_free_since_2018(library: Library) -> None:
    # 2018-04-01: 首次申领居民身份证 工本费停征 (国务院常务会议 2018-04-04; 公安部紧急通知).
    g = library.guides["id-card-first"]
    assert g.fee.free and all(g.fee_for(s.id).free for s in g.situations)
    assert "20元" not in _text(g), "the old 20元 first-card fee is still in the text"


def test_lost_id_card_replacement_is_40_yuan(library: Library) -> None:
    # 发改价格〔2003〕2322号: 丢失补领 每证40元.
    g = library.guides["id-card-lost"]
    assert all(g.fee_for(s.id).amount == "40元" for s in g.situations)


def test_id_card_renewal_fee_is_per_situation(library: Library) -> None:
    # 发改价格〔2003〕2322号: 换领 20元; 损坏换领 40元. 居民身份证法 §21: 低保 and rural hardship pay nothing.
    g = library.guides["id-card-renew"]
    assert g.fee_for("expired").amount == "20元"
    assert g.fee_for("info-changed").amount == "20元"
    assert g.fee_for("damaged").amount == "40元"
    assert re.search("低保", _text(g)) and re.search("不收|免", _text(g))


@pytest.mark.parametrize("code", ["id-card-renew", "id-card-lost"])
def test_id_card_guides_say_who_may_collect_the_new_card(library: Library, code: str) -> None:
    assert re.search("代领|代为领取|托.{0,8}领取", _text(library.guides[code])), code


def test_driving_licence_heavy_class_age_limit_is_63(library: Library) -> None:
    # 公安部 2024-12 新规 (2025-01-01): 大中型客货车 准驾车型 年龄上限 60 → 63; 三力测试 延长.
    text = _text(library.guides["driving-license-renew"])
    assert "63" in text and "三力" in text and "70" in text
    assert not re.search("满60周岁.{0,10}(不能|不得)", text)


def test_resident_medical_insurance_waiting_period_has_no_six_month_cap(library: Library) -> None:
    # 国办发〔2024〕38号: 固定等待期3个月 + 每断保1年加1个月; 修复后 4年以上 至少6个月.
    text = _text(library.guides["medical-insurance-resident"])
    assert "最长6个月" not in text and "3个月" in text and "1个月" in text


def test_newborn_name_follows_the_birth_certificate(library: Library) -> None:
    # A name is changed at the 派出所 after registration, not by re-issuing the birth certificate.
    newborn = _text(library.guides["hukou-newborn"])
    cert = _text(library.guides["birth-medical-cert"])
    assert "出生证上的名字" in newborn or "出生医学证明上的名字" in newborn
    assert not re.search("(重新|换|补).{0,6}出生(医学)?证明.{0,10}(改名|改名字)", newborn + cert)


def test_disability_card_is_handled_across_provinces(library: Library) -> None:
    # 国办发〔2020〕35号 跨省通办: 居住证 holders apply where they live.
    text = _text(library.guides["disability-card"])
    assert "居住证" in text and re.search("通办|外省|外地", text)


def test_residence_permit_is_issued_within_15_days_not_working_days(library: Library) -> None:
    # 居住证暂行条例 §9: 15日 (calendar days).
    g = library.guides["residence-permit"]
    assert "15个工作日" not in _text(g) + g.time_limit.promised + g.time_limit.legal
    assert "15日" in g.time_limit.legal


def test_hpf_rent_withdrawal_needs_three_months_of_full_contributions(library: Library) -> None:
    assert "连续足额" in _text(library.guides["hpf-withdraw-rent"])


def test_birth_certificate_surname_rule_allows_other_lineal_elders(library: Library) -> None:
    # 民法典 §1015.
    text = _text(library.guides["birth-medical-cert"]) + _text(library.guides["hukou-newborn"])
    assert re.search("爷爷|外公|长辈|直系", text)


def test_pension_claim_explains_what_people_short_of_years_can_do(library: Library) -> None:
    text = _text(library.guides["pension-claim"])
    assert "延长缴费" in text or "一次性" in text


def test_no_guide_tells_a_resident_to_leave_a_document_at_home(library: Library) -> None:
    leave = re.compile(r"(窗口|系统)(能|可以|可)查到的?.{0,6}(可以)?不(用)?带")
    offenders = [c for c, g in library.guides.items() if leave.search(_text(g))]
    assert not offenders, offenders


def test_copies_state_a_count(library: Library) -> None:
    for code, g in library.guides.items():
        for s in g.situations:
            for m in s.materials:
                if "复印件" in m.form.value:
                    assert m.copies >= 1, (code, s.id, m.name)
