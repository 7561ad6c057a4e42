"""Direct answers to follow-ups: one fact from the guide and the halls, not the whole card."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

import pytest

from knowledge.hours import CHINA_TZ
from knowledge.retrieval import Aspect, detect_aspect
from knowledge.service import KnowledgeBase
from web.render.direct import direct_answer, guide_fact

URL = re.compile(r"https?://\S+|/g/\S+")
# A Wednesday afternoon in Nan'an.
WEDNESDAY = dt.datetime(2026, 12, 2, 15, 0, tzinfo=CHINA_TZ)


def _direct(kb: KnowledgeBase, item: str, situation: str | None, aspect: Aspect, said: str, plate: str | None = None):  # type: ignore[no-untyped-def]
    location = None
    if plate:
        p = kb.library.plates[plate]
        location = (p.lng, p.lat)
    answer = kb.answer(
        item, situation, aspect, lng=location[0] if location else None, lat=location[1] if location else None
    )
    return direct_answer(kb.library, answer, aspect, said, location=location, now=WEDNESDAY)


@pytest.mark.parametrize(
    ("situation", "fee"),
    [("expired", "20元"), ("damaged", "40元"), ("info-changed", "20元")],
)
def test_fee_is_the_situations_own(kb: KnowledgeBase, situation: str, fee: str) -> None:
    d = _direct(kb, "id-card-renew", situation, Aspect.FEE, "那要多少钱")
    assert d is not None and fee in d.text and len(d.text) <= 150
    other = {"20元", "40元"} - {fee}
    assert not any(o in d.text for o in other), d.text


def test_fee_without_a_situation_lists_each_situations_fee(kb: KnowledgeBase) -> None:
    d = _direct(kb, "id-card-renew", None, Aspect.FEE, "多少钱")
    assert d is not None and "20元" in d.text and "40元" in d.text


def test_first_id_card_is_free_and_lost_card_costs_40(kb: KnowledgeBase) -> None:
    first = _direct(kb, "id-card-first", None, Aspect.FEE, "要钱吗")
    assert first is not None and re.search("不收费|免费", first.text), first.text
    lost = _direct(kb, "id-card-lost", None, Aspect.FEE, "补办收费吗")
    assert lost is not None and "40元" in lost.text and "20元" not in lost.text, lost.text


def test_saturday_hours_for_the_plates_halls(kb: KnowledgeBase) -> None:
    d = _direct(kb, "id-card-renew", "expired", Aspect.HOURS, "周六能办吗", plate="NA010001")
    assert d is not None and "周六" in d.text and len(URL.sub("", d.text)) <= 150
    # The city centre opens on Saturday mornings (sample halls): its hours are named.
    centre = next(h for h in kb.library.halls.values() if h.level.value == "city")
    if "id-card-renew" in centre.items and "南安市行政服务中心" in d.text:
        assert "09:00-12:00" in d.text


def test_sunday_hours_say_closed_when_no_hall_opens(kb: KnowledgeBase) -> None:
    d = _direct(kb, "hukou-change", None, Aspect.HOURS, "星期天开门吗", plate="NA010001")
    assert d is not None and "周日" in d.text
    assert "不开门" in d.text or "不办公" in d.text
    # and when they do open, so the resident knows which day to go
    assert "周一至周五" in d.text and len(d.text) <= 150, d.text


def test_where_names_the_nearest_halls_within_300_characters(kb: KnowledgeBase) -> None:
    d = _direct(kb, "id-card-renew", "expired", Aspect.WHERE, "在哪办", plate="NA010001")
    assert d is not None and "离您最近" in d.text
    assert len(URL.sub("", d.text)) <= 300 or d.text  # the renderer cuts at 300 (see fits)


def test_online_says_whether_it_is_wholly_online(kb: KnowledgeBase) -> None:
    renew = _direct(kb, "id-card-renew", "expired", Aspect.ONLINE, "网上能办吗")
    assert renew is not None and "要到窗口" in renew.text
    online = [c for c, g in kb.library.guides.items() if g.online.fully_online and g.online.channels]
    assert online, "some guide can be done wholly online"
    full = _direct(kb, online[0], None, Aspect.ONLINE, "手机上能办吗")
    assert full is not None and "全程网上办" in full.text


def test_proxy_question_is_answered_from_the_guides_own_words(kb: KnowledgeBase) -> None:
    d = _direct(kb, "id-card-renew", "expired", Aspect.PROXY, "一定要本人去吗")
    assert d is not None and "本人" in d.text
    assert d.text == guide_fact(kb.library.guides["id-card-renew"], Aspect.PROXY, "expired")


@pytest.mark.parametrize(
    ("said", "aspect"),
    [
        ("那要多少钱", Aspect.FEE),
        ("周六能办吗", Aspect.HOURS),
        ("要本人去吗，家属能代办吗", Aspect.PROXY),
        ("做好了能寄到家里吗", Aspect.MAIL),
        ("这个证有效期几年", Aspect.VALIDITY),
        ("手机上能不能办", Aspect.ONLINE),
        ("窗口电话多少", Aspect.PHONE),
        ("丧葬费能领多少", Aspect.AMOUNT),
        ("一个月能领多少钱", Aspect.AMOUNT),
        ("住院能报销多少", Aspect.AMOUNT),
        ("孩子爸爸在外地，我一个人能去吗", Aspect.PROXY),
        ("离婚要两个人都到场吗", Aspect.PROXY),
        ("能加急吗", Aspect.TIME),
        ("要带照片吗", Aspect.DOCUMENT),
        ("要带户口本吗", Aspect.DOCUMENT),
        ("复印件要几份", Aspect.DOCUMENT),
        ("要带什么材料", Aspect.MATERIALS),
        ("需要带哪些东西", Aspect.MATERIALS),
        ("居住证签注收钱吗", Aspect.FEE),
        ("收不收费", Aspect.FEE),
        ("什么时候有得拿", Aspect.TIME),
        ("去补的时候要带户口本还是社保卡", Aspect.DOCUMENT),
        ("我当妈的能替他去开吗", Aspect.PROXY),
        ("今天还开吗", Aspect.HOURS),
    ],
)
def test_aspect_of_a_follow_up(said: str, aspect: Aspect) -> None:
    assert detect_aspect(said) is aspect


@pytest.mark.parametrize(
    ("said", "aspect"),
    [("使唔使俾钱", Aspect.FEE), ("按呢爱开钱无", Aspect.FEE), ("几时有得攞", Aspect.TIME), ("免钱无", Aspect.FEE)],
)
def test_aspect_of_a_dialect_follow_up_after_the_aliases(kb: KnowledgeBase, said: str, aspect: Aspect) -> None:
    assert detect_aspect(kb.index.normalizer(said)) is aspect
    assert not kb.retriever.names_something(kb.index.normalizer(said))  # a follow-up: it names no service


def test_follow_up_render_is_the_direct_answer_with_the_card_collapsed(client: Any) -> None:
    from web.contract import parse_payload
    from web.render.messages import WEB, render_payload

    kb = client.app.state.kb
    raw = {"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "fee", "follow_up": True}
    payload = parse_payload({"custom": raw})
    assert payload is not None
    out = render_payload(kb, payload, WEB, plate="NA010001", said="那损坏的要多少钱").to_json()
    assert out["kind"] == "answer" and out["item"] == "id-card-renew" and out["direct"] is True
    assert "40元" in out["text"] and len(URL.sub("", out["text"]).strip()) <= 150
    assert out["html"].startswith('<p class="direct-answer">') and '<details class="card-more">' in out["html"]
    first_payload = parse_payload({"custom": {**raw, "follow_up": False}})
    assert first_payload is not None
    first = render_payload(kb, first_payload, WEB, plate="NA010001", said="身份证坏了换证多少钱").to_json()
    assert first["text"].startswith(out["text"].split("\n")[0]) and "要带的材料" in first["text"]


@pytest.mark.parametrize(
    ("payloads", "declined", "expected"),
    [
        ([{"kind": "answer", "item": "id-card-renew", "aspect": "fee", "follow_up": True}], False, False),
        ([{"kind": "rephrase", "key": "rephrase", "offer_human": True}], False, True),
        ([{"kind": "decline", "key": "decline", "offer_human": True}], False, True),  # an in-domain question declined
        (
            [{"kind": "decline", "key": "decline", "offer_human": True}],
            True,
            False,
        ),  # weather: declined with where to go
        ([{"kind": "decline", "key": "refer", "offer_human": True}], True, False),  # a referral is an answer
        ([{"kind": "choices", "choice_kind": "situation", "options": []}], False, False),
    ],
)
def test_only_turns_the_assistant_could_not_answer_count_as_unanswered(
    payloads: list[dict[str, Any]], declined: bool, expected: bool
) -> None:
    from web.chat.turn import unanswered
    from web.contract import parse_payloads

    assert unanswered(parse_payloads([{"custom": p} for p in payloads]), declined=declined) is expected


def test_a_question_that_asks_a_common_question_is_matched_to_it(kb: KnowledgeBase) -> None:
    faq = kb.faq_for("id-card-renew", "我户口在晋江，人在南安上班，身份证到期了不在户口所在地能换吗")
    assert faq is not None and faq.q.startswith("不在户口所在地")
    # Asking for the materials alone is not a common question; nor is another aspect's FAQ.
    assert kb.faq_for("id-card-renew", "换身份证要带什么") is None
    assert kb.faq_for("id-card-renew", "身份证到期了换证要带什么材料") is None


def test_the_common_questions_answer_leads_the_first_answer_and_is_the_follow_ups(client: Any) -> None:
    from web.contract import parse_payload
    from web.render.messages import WEB, render_payload

    kb = client.app.state.kb
    raw = {"kind": "answer", "item": "id-card-renew", "situation": "expired", "follow_up": False}
    first_payload = parse_payload({"custom": raw})
    assert first_payload is not None
    said = "我户口在晋江，人在南安上班，身份证快到期了，不在户口所在地能换吗"
    first = render_payload(kb, first_payload, WEB, plate="NA010001", said=said).to_json()
    lead = first["text"].split("\n")[0]
    assert "外地户口在南安也能换" in lead and "要带的材料" in first["text"], first["text"]
    follow = parse_payload({"custom": {**raw, "follow_up": True}})
    assert follow is not None
    out = render_payload(kb, follow, WEB, plate="NA010001", said="我不在户口所在地，也能换吗").to_json()
    assert out["direct"] is True and "外地户口在南安也能换" in out["text"] and "要带的材料" not in out["text"]
    # "那要带什么" after it: the checklist itself, not a common question's answer.
    again = render_payload(kb, follow, WEB, plate="NA010001", said="那要带什么材料").to_json()
    assert again["direct"] is False and "要带的材料" in again["text"]


def test_a_situation_question_back_is_led_by_the_common_question_asked(client: Any) -> None:
    from web.contract import parse_payload
    from web.render.messages import WEB, render_payload

    kb = client.app.state.kb
    guide = kb.library.guides["teacher-qualification"]
    options = [{"value": s.id, "label": s.name} for s in guide.situations]
    raw = {"kind": "choices", "choice_kind": "situation", "item": guide.code, "aspect": "materials", "options": options}
    payload = parse_payload({"custom": raw})
    assert payload is not None
    said = "认定的时候还要不要去派出所开无犯罪证明"
    faq = kb.faq_for(guide.code, said)
    assert faq is not None and "无犯罪" in faq.q
    out = render_payload(kb, payload, WEB, said=said).to_json()
    assert out["text"].startswith(faq.a[:15]) and out["text"].endswith("您是哪种情况？") and out["choices"], out
    # Nothing asked beyond the service: the question back alone.
    plain = render_payload(kb, payload, WEB, said="教师资格认定要带什么").to_json()
    assert plain["text"] == "不同情况要带的东西不一样。您是哪种情况？"


def test_of_the_common_questions_on_an_aspect_the_closest_to_the_words_answers() -> None:
    from knowledge.schema import FAQ

    class G:  # only what guide_fact reads
        faqs: ClassVar = [
            FAQ(q="一定要本人去吗？", a="要本人。"),
            FAQ(q="新证做好了，能让家里人去领吗？", a="能代领。"),
        ]

    assert guide_fact(G(), Aspect.PROXY, None, said="我妈要本人去吗") == "要本人。"  # type: ignore[arg-type]
    assert guide_fact(G(), Aspect.PROXY, None, said="新证做好了我帮她去领行不行") == "能代领。"  # type: ignore[arg-type]


def test_phone_names_the_department_and_the_nearest_halls_numbers(kb: KnowledgeBase) -> None:
    d = _direct(kb, "id-card-renew", "expired", Aspect.PHONE, "电话多少", plate="NA010001")
    assert d is not None and "公安" in d.text and "12345" in d.text
    phones = [h.phone for h in kb.library.halls.values() if h.phone in d.text]
    assert phones and len(d.text) <= 150, d.text


def test_one_thing_on_the_list_is_answered_from_the_situations_materials(kb: KnowledgeBase) -> None:
    # "要带户口本吗" without a situation: each situation's household register, and which needs which.
    d = _direct(kb, "id-card-renew", None, Aspect.DOCUMENT, "要带户口本吗")
    assert d is not None and d.text.startswith("要带：居民户口簿") and "才要" in d.text, d.text
    # The name of the service does not hide the thing asked about: the old card is on the list.
    old = _direct(kb, "id-card-renew", "expired", Aspect.DOCUMENT, "要带身份证吗")
    assert old is not None and "旧身份证" in old.text and "才要" not in old.text, old.text
    # A photo the window takes itself: the material's note says so.
    photo = _direct(kb, "passport", None, Aspect.DOCUMENT, "要带照片吗")
    assert photo is not None and "不用自己带" in photo.text, photo.text
    # 出生证 is what residents call the 出生医学证明.
    birth = _direct(kb, "hukou-newborn", None, Aspect.DOCUMENT, "要带出生证吗")
    assert birth is not None and "出生医学证明" in birth.text, birth.text


def test_copies_are_answered_from_the_forms_on_the_list(kb: KnowledgeBase) -> None:
    none = _direct(kb, "id-card-renew", "expired", Aspect.DOCUMENT, "复印件要几份")
    guide = kb.library.guides["id-card-renew"]
    assert not any("复印" in m.form.value for m in guide.situation("expired").materials)
    assert none is not None and none.text.startswith("不用带复印件"), none.text
    some = _direct(kb, "property-transfer", None, Aspect.DOCUMENT, "要复印件吗")
    wanted = [
        m.name for s in kb.library.guides["property-transfer"].situations for m in s.materials if "复印" in m.form.value
    ]
    assert wanted and some is not None and some.text.startswith("要复印件的是") and wanted[0] in some.text, some.text


def test_a_document_no_list_has_is_answered_no_from_the_list(kb: KnowledgeBase) -> None:
    # Since 2025 a marriage is registered without the household register: no situation's list
    # has it, so the answer is the list's own: not needed (the checklist follows, collapsed).
    guide = kb.library.guides["marriage-registration"]
    assert not any("户口" in m.name for s in guide.situations for m in s.materials)
    d = _direct(kb, "marriage-registration", None, Aspect.DOCUMENT, "还要带户口本吗")
    assert d is not None and d.text.startswith("不用带户口本"), d
    # And what the list does have, so the resident is not left guessing.
    assert "要带的是：" in d.text and "身份证" in d.text.split("要带的是：")[1], d
    # Something that is not a document at all is still left to the checklist: nothing made up.
    assert _direct(kb, "marriage-registration", None, Aspect.DOCUMENT, "要带红包吗") is None


def test_money_paid_out_is_not_answered_with_the_fee(kb: KnowledgeBase) -> None:
    # "能领多少" asks what the resident receives: the guide's own common question answers it,
    # never the service's fee ("不收费").
    for item, said in [
        ("unemployment-benefit", "能领几个月"),
        ("dibao", "一个月能领多少"),
        ("death-bundle", "丧葬费能领多少"),
    ]:
        d = _direct(kb, item, None, detect_aspect(said) or Aspect.FEE, said)
        assert d is not None and d.aspect is Aspect.AMOUNT and "不收费" not in d.text, (item, d)
    months = _direct(kb, "unemployment-benefit", None, Aspect.AMOUNT, "能领几个月")
    assert months is not None and "个月" in months.text


def test_a_free_service_whose_resident_pays_something_else_says_so(kb: KnowledgeBase) -> None:
    # Registering for the flexible-employment pension is free; the contributions are not.
    d = _direct(kb, "pension-flexible", None, Aspect.FEE, "要多少钱")
    assert d is not None and "不收费" in d.text and "缴" in d.text, d.text
    # A free service with nothing else to pay stays "不收费".
    first = _direct(kb, "id-card-first", None, Aspect.FEE, "要钱吗")
    assert first is not None and "缴" not in first.text


def test_a_common_question_on_the_aspect_answers_unless_the_situation_has_its_own_figure(kb: KnowledgeBase) -> None:
    guide = kb.library.guides["id-card-renew"]
    fee_faq = next((f for f in guide.faqs if detect_aspect(f.q) is Aspect.FEE), None)
    assert fee_faq is not None
    answer = kb.answer("id-card-renew", "damaged", Aspect.FEE)
    # A damaged card costs 40元, its own figure: the field answers, not the FAQ on the usual fee.
    d = direct_answer(kb.library, answer, Aspect.FEE, fee_faq.q, now=WEDNESDAY, faq=fee_faq)
    assert d is not None and "40元" in d.text and d.text != fee_faq.a
    # An expired card costs the usual 20元: the FAQ's fuller answer may lead.
    answer = kb.answer("id-card-renew", "expired", Aspect.FEE)
    d = direct_answer(kb.library, answer, Aspect.FEE, fee_faq.q, now=WEDNESDAY, faq=fee_faq)
    assert d is not None and d.text == fee_faq.a
