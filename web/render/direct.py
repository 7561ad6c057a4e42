"""Direct answers: the one to three sentences a follow-up asks for, from the guide and the halls.

"那要多少钱" after a checklist wants "20元", not the checklist again. A direct
answer is built from the same guide and halls as the card (never free text):
the fee for *this* situation, how long, where (the nearest halls that handle the
item), the hours on the day asked, online or in person, who must go and whether
a relative may, whether it can be posted, how long it is valid. The checklist is
not repeated: web shows it as a collapsed card, WeChat as a link.

Every sentence the assistant says here is in ``web.render.sentences.SAY``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from knowledge.answer import Answer, ChecklistEntry, fee_text, time_text
from knowledge.halls import distance_m, hours_text, open_status, sessions_on
from knowledge.hours import CHINA_TZ
from knowledge.library import Library
from knowledge.retrieval import Aspect, detect_aspect
from knowledge.schema import FAQ, Guide, Hall, HallLevel
from knowledge.service import split_sentences
from web.render.sentences import SAY, TRIP_SAVERS, trips_badge

WEEKDAY_WORDS: list[tuple[re.Pattern[str], list[int], str]] = [
    (re.compile(r"周末|礼拜天和礼拜六|星期六日|周六日|双休"), [5, 6], "周六、周日"),
    (re.compile(r"周六|星期六|礼拜六|禮拜六|saturday", re.I), [5], "周六"),
    (re.compile(r"周日|周天|星期天|星期日|礼拜天|礼拜日|sunday", re.I), [6], "周日"),
]
TODAY = re.compile(r"今天|现在|这会|还开|开着吗|还来得及")
TOMORROW = re.compile(r"明天")
HOLIDAY = re.compile(r"节假日|放假|国庆|春节|过年|五一|元旦|中秋|端午|清明")

# Where the guide says it, for the aspects a guide has no field for.
FACT_WORDS = {
    Aspect.PROXY: re.compile(r"本人|亲自|到场|代办|代领|委托|代为|家属|亲属|家里人|家人|别人|替|监护人"),
    Aspect.MAIL: re.compile(r"邮寄|寄到|快递|寄送|邮政"),
    Aspect.VALIDITY: re.compile(r"有效期|有效|年内|长期|能用多久|用多久|用几年|管几年|管多久"),
    # money paid out: the common question that asks it, else sentences with an amount or a rate
    Aspect.AMOUNT: re.compile(r"(领|发|补贴|补助|报销|报|赔|拿)(多少|几成|几个月|到多少)|标准|\d+元|%|比例"),
}


# A free service's fee basis that says what the resident pays all the same (保险费自己缴纳, 按实际收取).
PAID_OTHERWISE = re.compile(r"缴纳|缴费|要交|自己交|按实际收取|自付|另交|另收|自理|自费|自己承担|自己出")


@dataclass(frozen=True)
class Direct:
    """A direct answer: the text, and whether the card should follow it."""

    text: str
    aspect: Aspect


def _who(answer: Answer) -> str:
    return f"（{answer.situation_name}）" if answer.situation_name else ""


def _halls_for(lib: Library, guide: Guide, location: tuple[float, float] | None, limit: int = 3) -> list[Hall]:
    """The nearest halls that handle the item (the city centre first when we do not know where)."""
    pool = [h for h in lib.halls_for(guide.code) if h.level in guide.where.levels] or lib.halls_for(guide.code)
    if location is None:
        return sorted(pool, key=lambda h: h.level is not HallLevel.CITY)[:1]
    lng, lat = location
    return sorted(pool, key=lambda h: distance_m(lng, lat, h.lng, h.lat))[:limit]


def _day_sessions(hall: Hall, day: dt.date, lib: Library) -> str:
    sessions = sessions_on(hall, day, lib.holidays)
    return "、".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in sessions) or SAY["hours_closed"]


def _next(weekday: int, today: dt.date) -> dt.date:
    return today + dt.timedelta(days=(weekday - today.weekday()) % 7)


def hours_answer(lib: Library, guide: Guide, text: str, location: tuple[float, float] | None, now: dt.datetime) -> str:
    """Hours on the day the resident asks about (周六 / 周日 / 今天 / 明天 / 节假日), for the halls near them."""
    halls = _halls_for(lib, guide, location)
    local = now.astimezone(CHINA_TZ)
    today = local.date()
    days: list[tuple[str, dt.date]] = []
    for pattern, weekdays, _ in WEEKDAY_WORDS:
        if pattern.search(text):
            days = [("周六" if w == 5 else "周日", _next(w, today)) for w in weekdays]
            break
    if not days and TOMORROW.search(text):
        days = [("明天", today + dt.timedelta(days=1))]
    if not days and TODAY.search(text):
        days = [("今天", today)]
    parts: list[str] = []
    if days:
        for word, day in days:
            open_halls = [(h, _day_sessions(h, day, lib)) for h in halls]
            if all(s == SAY["hours_closed"] for _, s in open_halls):
                parts.append(SAY["hours_none"].format(day=word, week=f"{halls[0].name} {hours_text(halls[0])}"))
            else:
                parts.append(SAY["hours_day"].format(day=word, halls="；".join(f"{h.name} {s}" for h, s in open_halls)))
        if any(word == "今天" for word, _ in days):
            parts += [f"{h.name}{open_status(h, now, lib.holidays).label}。" for h in halls[:1]]
    else:
        parts.append(SAY["hours_week"].format(halls="；".join(f"{h.name} {hours_text(h)}" for h in halls[:2])))
    if HOLIDAY.search(text) or not days:
        parts.append(SAY["holiday"])
    return "".join(parts)


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if c.isalnum()]
    return {a + b for a, b in itertools.pairwise(chars)}


def guide_fact(guide: Guide, aspect: Aspect, situation: str | None, limit: int = 140, said: str = "") -> str:
    """The guide's own words on an aspect without a field: a common question's answer first
    (of those on the aspect, the one closest to what was said), then the situation's notes,
    the online note, tips and steps."""
    pattern = FACT_WORDS[aspect]
    on_aspect = [f for f in guide.faqs if pattern.search(f.q)]
    if on_aspect:
        words = _bigrams(said)
        best = max(on_aspect, key=lambda f: len(words & _bigrams(f.q)))  # the first among equals
        return best.a[:limit]
    pool: list[str] = []
    chosen = guide.situation(situation)
    pool += [chosen.notes, *(m.notes for m in chosen.materials if pattern.search(m.name + m.notes))]
    pool += [guide.online.note, *guide.tips, *(st.text for st in guide.steps), *(f.a for f in guide.faqs)]
    hits = list(dict.fromkeys(s for s in split_sentences(p for p in pool if p) if pattern.search(s)))
    if said:  # the sentences closest to what was asked first (the guide's order among equals)
        words = _bigrams(said)
        hits.sort(key=lambda s: -len(words & _bigrams(s)))
    return "".join(hits)[:limit]


def _own_figure(guide: Guide, aspect: Aspect, situation: str | None) -> bool:
    """Does the resident's situation have its own fee or time limit (损坏换证 40元)? Then that
    field answers, not the common question on the guide's usual figure."""
    if situation is None:
        return False
    if aspect is Aspect.FEE:
        return fee_text(guide, situation) != fee_text(guide)
    if aspect is Aspect.TIME:
        return time_text(guide, situation) != time_text(guide)
    return True


def _phone(lib: Library, guide: Guide, location: tuple[float, float] | None) -> str:
    halls = _halls_for(lib, guide, location, 1)
    return halls[0].phone if halls else "12345"


def direct_answer(
    lib: Library,
    answer: Answer,
    aspect: Aspect,
    text: str,
    *,
    location: tuple[float, float] | None = None,
    now: dt.datetime,
    faq: FAQ | None = None,
) -> Direct | None:
    """The direct answer to a question about one aspect of the item, or None for materials.

    ``faq`` is the item's common question the resident's words ask (``KnowledgeBase.faq_for``):
    its answer is the direct answer when no field of the guide answers the aspect (materials,
    who must go, posting, validity) — "外地户口能办吗" is answered by the guide's own FAQ.
    """
    guide = lib.guides[answer.item]
    on_aspect = faq is not None and detect_aspect(faq.q) is aspect and not _own_figure(guide, aspect, answer.situation)
    if faq is not None and (aspect in (Aspect.MATERIALS, Aspect.DOCUMENT) or aspect in FACT_WORDS or on_aspect):
        # the item's own common question on what is asked ("一年大概要交多少钱？") answers it best,
        # unless the resident's situation is known and a field has its own figure (损坏换证 40元)
        return Direct(faq.a, aspect)
    title = answer.title.split("（")[0]
    if aspect is Aspect.FEE:
        if answer.situation is None and len({fee_text(guide, s.id) for s in guide.situations}) > 1:
            fees = "；".join(f"{s.name}{fee_text(guide, s.id)}" for s in guide.situations)
            return Direct(SAY["fee_by_situation"].format(title=title, fees=fees), aspect)
        text = SAY["fee_one"].format(title=title, who=_who(answer), fee=answer.fee)
        fee = guide.fee_for(answer.situation)
        if fee.free and PAID_OTHERWISE.search(fee.basis):
            # The service is free, but the resident pays something else (insurance contributions,
            # a bank's valuation): "不收费" alone would mislead.
            text += fee.basis.rstrip("。") + "。"
        return Direct(text, aspect)
    if aspect is Aspect.TIME:
        if answer.situation is None and len({time_text(guide, s.id) for s in guide.situations}) > 1:
            times = "；".join(f"{s.name}{time_text(guide, s.id)}" for s in guide.situations)
            return Direct(f"{title}：{times}。", aspect)
        return Direct(SAY["time"].format(title=title, who=_who(answer), time=answer.time_limit), aspect)
    if aspect is Aspect.WHERE:
        lines = [
            SAY["where"].format(
                title=title, note=guide.where.note, citywide="（全市通办）" if guide.where.citywide else ""
            )
        ]
        if answer.halls:
            lines.append(
                SAY["near"].format(
                    halls="；".join(
                        f"{h.name}（{h.distance}，{h.status}）{h.address}，电话{h.phone}" for h in answer.halls[:3]
                    )
                )
            )
        return Direct("".join(lines), aspect)
    if aspect is Aspect.HOURS:
        return Direct(hours_answer(lib, guide, text, location, now), aspect)
    if aspect is Aspect.ONLINE:
        channels = "；".join(c.name + (f"：{c.how}" if c.how else "") for c in guide.online.channels[:2])
        if guide.online.fully_online:
            return Direct(SAY["online_full"].format(channels=channels), aspect)
        if channels:
            note = f"{guide.online.note}" if guide.online.note else ""
            return Direct(SAY["online_part"].format(channels=channels) + note, aspect)
        return Direct(SAY["online_none"], aspect)
    if aspect is Aspect.TRIPS:
        return Direct(trips_answer(answer, title), aspect)
    if aspect is Aspect.PHONE:
        halls = [f"{h.name} {h.phone}" for h in answer.halls[:2]] or [
            f"{h.name} {h.phone}" for h in _halls_for(lib, guide, location, 2)
        ]
        return Direct(SAY["phone"].format(title=title, dept=guide.dept, halls="；".join(halls)), aspect)
    if aspect is Aspect.DOCUMENT:
        said_doc = document_answer(guide, answer, text)
        return Direct(said_doc, aspect) if said_doc else None
    if aspect in FACT_WORDS:
        fact = guide_fact(guide, aspect, answer.situation, said=text)
        if fact:
            return Direct(fact, aspect)
        key = {
            Aspect.PROXY: "proxy_unknown",
            Aspect.MAIL: "mail_unknown",
            Aspect.VALIDITY: "validity_unknown",
            Aspect.AMOUNT: "amount_unknown",
        }[aspect]
        return Direct(SAY[key].format(phone=_phone(lib, guide, location)), aspect)
    return None


# Words residents use for a thing on the list, as the guides name it.
DOCUMENT_WORDS = [
    (re.compile(r"相片|证件照|寸照|照相|像片"), "照片"),
    (re.compile(r"户口本"), "户口簿"),
    (re.compile(r"户口簿"), "户口本"),
    (re.compile(r"出生证"), "出生医学证明"),
]
# Bigrams that ask about a thing without naming it ("要带…吗", "需要…").
ASKING_BIGRAMS = frozenset(
    {"要带", "需要", "带吗", "要不", "不要", "用不", "不用", "带不", "不带", "要吗", "得带", "用带"}
)
COPIES = re.compile(r"复印|原件|几份")
# Documents residents ask about by name: when the list has none of them, the list's answer is "no".
KNOWN_DOCUMENTS = re.compile(
    r"户口本|户口簿|结婚证|离婚证|身份证|照片|出生医学证明|出生证|社保卡|房产证|不动产权证书?|驾驶证|驾照|居住证|护照|户籍证明"
)


def document_answer(guide: Guide, answer: Answer, said: str) -> str:
    """ "要照片吗" / "要带户口本吗" / "要复印件吗": what the list says of that one thing, for the
    resident's situation (or for each situation that needs it, when it is not known yet).
    Empty when the words name nothing on the list: then the checklist itself answers."""
    for pattern, word in DOCUMENT_WORDS:
        if pattern.search(said):
            said += f" {word}"
    chosen = [guide.situation(answer.situation)] if answer.situation else list(guide.situations)
    words = _bigrams(said) - ASKING_BIGRAMS - _bigrams("证明材料原件复印件")
    # Words of the service's name say which service, not which thing ("办护照要带身份证吗"),
    # unless nothing else on the list matches ("换身份证要带身份证吗": the old card).
    named = _named_materials(chosen, words - _bigrams(guide.title)) or _named_materials(chosen, words)
    parts: list[str] = []
    for m, needed_by in list(named.values())[:2]:
        entry = ChecklistEntry.from_material(m)
        when = "" if len(needed_by) == len(chosen) else f"（{'、'.join(needed_by)}才要）"
        head = SAY["document_optional"] if m.optional else SAY["document_needed"]
        parts.append(head.format(label=entry.label, when=when) + (f"——{m.notes}" if m.notes else "") + "。")
    if not parts:
        noted = [
            s
            for sit in chosen
            for m in sit.materials
            if m.notes
            for s in split_sentences([m.notes])
            if words & _bigrams(s)
        ]
        parts.append("".join(dict.fromkeys(noted)))
    if not any(parts) and COPIES.search(said):
        copies: dict[str, list[str]] = {}
        for sit in chosen:
            for m in sit.materials:
                if "复印" in m.form.value:
                    copies.setdefault(ChecklistEntry.from_material(m).label, []).append(sit.name)
        if not copies:
            return SAY["document_no_copies"]
        listed = [
            label + ("" if len(by) == len(chosen) else f"（{'、'.join(by)}）") for label, by in list(copies.items())[:4]
        ]
        return SAY["document_copies"].format(copies="、".join(listed))
    if not any(parts):
        # "还要带户口本吗" where no situation's list has it (a marriage since 2025): say so.
        asked = KNOWN_DOCUMENTS.search(said)
        if asked:
            # and what the list does have, so the resident is not left guessing
            listed = list(dict.fromkeys(ChecklistEntry.from_material(m).label for sit in chosen for m in sit.materials))
            head = SAY["document_not_listed"].format(document=asked.group(0))
            return head + SAY["document_listed"].format(
                labels="、".join(listed[:4]) + ("等" if len(listed) > 4 else "")
            )
    return "".join(parts)


def _named_materials(situations: Sequence[Any], words: set[str]) -> dict[str, tuple[Any, list[str]]]:
    """The materials whose names share a bigram with ``words``: name → (material, the situations needing it)."""
    named: dict[str, tuple[Any, list[str]]] = {}
    for sit in situations:
        for m in sit.materials:
            if words & _bigrams(m.name):
                named.setdefault(m.name, (m, []))[1].append(sit.name)
    return named


def trips_answer(answer: Answer, title: str) -> str:
    """跑几趟: the trips for the resident's situation, why, and what saves one (or per situation)."""
    counts = {s.trips for s in answer.situations}
    if answer.situation is None and len(counts) > 1:
        per = "；".join(f"{s.name}{trips_badge(s.trips)}" for s in answer.situations)
        return SAY["trips_by_situation"].format(title=title, per=per)
    t = answer.trips
    text = SAY["trips_one"].format(title=title, who=_who(answer), badge=trips_badge(t.count), why=t.why.rstrip("。；"))
    if t.without is not None and t.fewer:
        text += SAY["trips_without"].format(ways="、".join(TRIP_SAVERS[f] for f in t.fewer), without=t.without)
    return text


def fits(text: str, limit: int) -> str:
    """Cut a direct answer at a sentence end within the limit."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(c) for c in "。；")
    return cut[: end + 1] if end > limit // 2 else cut[: limit - 1] + "…"


__all__: Sequence[str] = [
    "SAY",
    "Direct",
    "direct_answer",
    "document_answer",
    "fits",
    "guide_fact",
    "hours_answer",
    "trips_answer",
]
