"""A dialogue payload → the message a channel shows: the one place a turn's product is rendered.

``/api/chat`` returns these messages as JSON (``ChatMessage.to_json``: fields are added over
time, never renamed); WeChat joins their text within its one budget. A channel says whether it
shows the HTML card (``html``) and how its text is counted (``budget`` and ``measure``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from html import escape
from typing import Any

from knowledge.answer import Answer
from knowledge.retrieval import Aspect, Declined, asks_for_list, detect_aspect
from knowledge.service import KnowledgeBase
from web.contract import AnswerPayload, ChoicesPayload, HandoffPayload, Option, Payload, SimplePayload
from web.render.direct import direct_answer, fits
from web.render.html import render_html
from web.render.plain import Measure, render_text
from web.render.sentences import SAY
from web.render.wechat import MAX_TEXT_BYTES, utf8_len

# A direct answer's length (URLs aside): short for fee, time and hours; room for halls in "where".
DIRECT_LIMITS = {Aspect.FEE: 150, Aspect.TIME: 150, Aspect.HOURS: 150, Aspect.WHERE: 300}
DIRECT_DEFAULT_LIMIT = 220
# The facts a first question may ask alone; who must go, one document or a common question lead
# the checklist instead (the resident is about to get ready for the trip).
ONE_FACT = frozenset(
    {Aspect.FEE, Aspect.TIME, Aspect.HOURS, Aspect.WHERE, Aspect.PHONE, Aspect.VALIDITY, Aspect.AMOUNT, Aspect.MAIL}
)
ONE_FACT_TAIL = 20  # the line with the checklist's link (URL aside) and the draft note


class MessageKind(enum.StrEnum):
    ANSWER = "answer"
    CHOICES = "choices"
    HANDOFF = "handoff"
    TEXT = "text"


@dataclass(frozen=True)
class Channel:
    """How a channel shows a message."""

    name: str
    html: bool = True  # the answer card as HTML beside the text
    budget: int | None = None  # the most a text may be, as ``measure`` counts
    measure: Measure = len


WEB = Channel("web")
WECHAT = Channel("wechat", html=False, budget=MAX_TEXT_BYTES, measure=utf8_len)
CHANNELS = {c.name: c for c in (WEB, WECHAT)}


def channel_of(name: str) -> Channel:
    return CHANNELS.get(name, WEB)


@dataclass
class ChatMessage:
    """One message of a turn as /api/chat returns it."""

    kind: MessageKind
    text: str
    item: str | None = None
    situation: str | None = None
    aspect: str | None = None
    direct: bool = False
    html: str | None = None
    offer_human: bool = False
    choice_kind: str | None = None
    choices: list[Option] = field(default_factory=list)
    reason: str | None = None
    refer_kind: str | None = None
    queue: dict[str, int] | None = None
    offer_message: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind.value, "text": self.text}
        if self.kind is MessageKind.ANSWER:
            data |= {
                "item": self.item,
                "situation": self.situation,
                "aspect": self.aspect,
                "direct": self.direct,
                "offer_human": self.offer_human,
            }
            if self.html is not None:
                data["html"] = self.html
        elif self.kind is MessageKind.CHOICES:
            data |= {
                "item": self.item,
                "choice_kind": self.choice_kind,
                "choices": [{"value": o.value, "label": o.label} for o in self.choices],
            }
        elif self.kind is MessageKind.HANDOFF:
            data["reason"] = self.reason
        else:
            if self.queue is None and not self.offer_message:
                data["offer_human"] = self.offer_human
            if self.refer_kind:
                data["refer_kind"] = self.refer_kind
            if self.queue is not None:
                data["queue"] = self.queue
            if self.offer_message:
                data["offer_message"] = True
        return data


def render_payload(
    kb: KnowledgeBase,
    payload: Payload,
    channel: Channel,
    *,
    plate: str | None = None,
    retrieval_only: bool = False,
    said: str = "",
    base_url: str = "",
) -> ChatMessage:
    """Turn a structured payload into a message for the channel.

    A follow-up about one aspect gets the direct answer only (the card collapsed on web, a
    link in text); a first question about an aspect gets the direct answer first, then the card.
    """
    if isinstance(payload, AnswerPayload) and payload.item in kb.library.guides:
        return _answer(kb, payload, channel, plate=plate, retrieval_only=retrieval_only, said=said, base_url=base_url)
    if isinstance(payload, ChoicesPayload):
        key = "choose_situation" if payload.choice_kind.value == "situation" else "choose_item"
        text = SAY[key]
        if key == "choose_situation" and payload.item in kb.library.guides and said:
            # "申请认定之前是不是还得去派出所开无犯罪证明" asks a common question of the item as well:
            # its answer first, then which situation (the checklist depends on it).
            faq = kb.faq_for(payload.item, said, follow_up=False)
            if faq is not None:
                text = fits(faq.a, DIRECT_DEFAULT_LIMIT) + "\n" + text
        return ChatMessage(
            MessageKind.CHOICES,
            text,
            item=payload.item,
            choice_kind=payload.choice_kind.value,
            choices=list(payload.options),
        )
    if isinstance(payload, HandoffPayload):
        return ChatMessage(MessageKind.HANDOFF, SAY["handoff"], reason=payload.reason.value)
    simple = payload if isinstance(payload, SimplePayload) else SimplePayload(kind=payload.kind)
    text = simple.text or SAY.get(simple.key, SAY["rephrase"])
    if simple.refer and simple.refer_kind in (Declined.REFERRAL.value, Declined.LOOKUP.value):
        # An honest referral is the answer: no "I can't help" after it.
        text = f"{simple.refer}\n{SAY['refer_more']}"
    elif simple.refer:
        text = f"{simple.refer}\n{text}"
    return ChatMessage(MessageKind.TEXT, text, offer_human=simple.offer_human, refer_kind=simple.refer_kind)


def _answer(
    kb: KnowledgeBase,
    payload: AnswerPayload,
    channel: Channel,
    *,
    plate: str | None,
    retrieval_only: bool,
    said: str,
    base_url: str,
) -> ChatMessage:
    lng = lat = None
    if plate and plate in kb.library.plates:
        p = kb.library.plates[plate]
        lng, lat = p.lng, p.lat
    aspect = payload.aspect
    now = kb.clock.now()
    answer: Answer = kb.answer(payload.item, payload.situation, aspect, lng=lng, lat=lat, now=now)
    answer.retrieval_only = retrieval_only
    answer.url = f"{base_url}{answer.url}"
    location = (lng, lat) if lng is not None and lat is not None else None
    faq = kb.faq_for(answer.item, said, follow_up=payload.follow_up) if said else None
    normalized = kb.index.normalizer(said) if said else ""
    # The words ask no aspect but one of the item's common questions ("补好之前还能开车不"): its
    # answer, whatever aspect the NLU guessed from a stray word (开 → hours).
    asked = Aspect.MATERIALS if faq is not None and detect_aspect(normalized) is None else aspect
    direct = direct_answer(kb.library, answer, asked, said, location=location, now=now, faq=faq)
    # A follow-up that asks for the materials again ("那要带什么") gets the checklist itself.
    asks_materials = detect_aspect(normalized) is Aspect.MATERIALS if said else False
    follow_up = payload.follow_up and direct is not None and not asks_materials
    # A first question about one fact only ("那护照在哪里办", "换一张要多少钱"): that fact, and the
    # checklist one tap away (the card on web, the link in text) — not 600 characters of card.
    one_fact = (
        not follow_up
        and direct is not None
        and faq is None
        and direct.aspect in ONE_FACT
        and not asks_for_list(normalized)
    )
    limit = DIRECT_LIMITS.get(direct.aspect, DIRECT_DEFAULT_LIMIT) if direct is not None else 0
    lead = fits(direct.text, limit - (ONE_FACT_TAIL if one_fact else 0)) if direct is not None else ""
    budget, measure = channel.budget, channel.measure
    if follow_up:
        text = lead + f"\n详情：{answer.url}"
    elif one_fact:
        text = lead + "\n" + SAY["list_link"].format(url=answer.url, review=SAY["draft"])
    elif direct is not None:
        rest = budget - measure(lead) - 1 if budget else None
        text = lead + "\n" + render_text(answer, rest, measure)
    else:
        text = render_text(answer, budget, measure)
    html = None
    if channel.html:
        html = render_html(answer)
        if follow_up:
            html = f'<details class="card-more"><summary>{SAY["card_more"]}</summary>{html}</details>'
        if direct is not None:
            html = f'<p class="direct-answer">{escape(lead)}</p>{html}'
    return ChatMessage(
        MessageKind.ANSWER,
        text,
        item=answer.item,
        situation=answer.situation,
        aspect=aspect.value,
        direct=follow_up,
        html=html,
        offer_human=retrieval_only,
    )
