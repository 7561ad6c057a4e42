"""One chat turn: normalise + retrieve → Rasa (REST channel) → render the payloads.

When Rasa is down or slow the turn is answered from retrieval alone (marked as
such) and a person is still offered: a resident never meets a dead page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from html import escape
from typing import Any

import httpx

from knowledge.answer import WECHAT_TEXT_LIMIT, render_html, render_text
from knowledge.errors import BadRequest, MenpaiError
from knowledge.library import Library
from knowledge.places import CHINA_TZ
from knowledge.retrieval import Aspect, Declined, RetrievalResult, declined_kind
from knowledge.service import KnowledgeBase
from web.db.analytics import event_row
from web.db.store import Store
from web.direct import direct_answer, fits
from web.handoff import HandoffEvent, IllegalTransition, Mode, resident_talks_to_bot

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000
# Without Rasa, an explicit request for a person is still honoured.
HUMAN_REQUEST = re.compile(r"人工|真人|客服|找个人|找人帮|工作人员|投诉")

TEXTS = {
    "restart": "好的，我们重新开始。想办什么事，直接说就行。",
    "greet": "您好！我是南安市数字政务门牌助手（示例）。想办什么事，直接说就行，比如“换身份证要带什么”。",
    "thank": "不客气！还有别的事情随时问我。",
    "goodbye": "好的，祝您办事顺利，再见！",
    "iamabot": "我是自动回复的智能助手，答案来自政务服务办事攻略。需要真人的话，点“找人工帮办”或者说“人工”。",
    "rephrase": "不好意思，我没太听懂您要办什么事。可以换个说法吗？比如“给孩子上户口要带什么”。也可以说“人工”找工作人员。",
    "decline": "这个问题我帮不上忙，我只懂政务服务办事。您可以问办事要带的材料、在哪办、要多少钱；也可以找人工帮您。",
    "which_service": "您想问哪件事呢？比如“换身份证”“医保缴费”“公积金提取”。",
    "ok_no_human": "好的。您还可以换个说法再问我。",
    "anything_else": "好的。还有别的想问的吗？",
    "handoff": "好的，正在为您转接人工，请稍等。工作人员会看到您前面问过的内容，不用再说一遍。",
    "choose_situation": "不同情况要带的东西不一样。您是哪种情况？",
    "choose_item": "我不太确定您想办哪一件，是下面哪个？",
    "rasa_down": "（智能助手暂时忙，以下为自动检索结果）",
    "refer": "这件事我这里还没有详细攻略，可以打12345问清楚，也可以找人工帮您。",
    "refer_more": "还有别的事可以接着问我，需要的话也可以找人工帮您。",
    "nothing_found": "抱歉，没有找到和您的问题对应的办事攻略。可以换个说法，或者点“找人工帮办”。",
    "waiting": "已经为您转接人工，前面还有 {ahead} 位，预计等 {minutes} 分钟。您可以继续留言，工作人员会看到。",
    "agent": "工作人员已收到您的消息。",
    "after_hours": "现在是下班时间（工作人员周一至周五 {hours} 在线）。请留下电话和留言，上班后工作人员会回电；也可以先问我。",
}


def payloads_of(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r["custom"] for r in raw if isinstance(r.get("custom"), dict)]


def unanswered(payloads: list[dict[str, Any]], *, declined: bool = False) -> bool:
    """Did the assistant fail to answer this turn? Asked to rephrase, or declined a question
    it should know (a decline with no out-of-scope topic, referral or look-up to point to).
    A follow-up answered directly, a referral or a question back is not unanswered."""
    for p in payloads:
        if p.get("kind") == "rephrase":
            return True
        if p.get("kind") == "decline" and p.get("key") != "refer" and not declined:
            return True
    return not payloads


def referral_text(lib: Library, key: str) -> str:
    """Who handles it, or where the resident sees their own data, for a question no guide answers."""
    kind, ident = declined_kind(key)
    if kind is Declined.REFERRAL and ident in lib.referrals:
        ref = lib.referrals[ident]
        online = ""
        if ref.online:
            online = f"也可以在{ref.online.name}办理或咨询" + (f"：{ref.online.how}" if ref.online.how else "") + "。"
        return (
            f"“{ref.name}”这件事还没有详细攻略：{ref.what}由{ref.dept}办理，地点：{ref.where.note}。"
            f"电话 {ref.phone}（去之前先打电话问清楚要带什么）。{online}"
        )
    if kind is Declined.LOOKUP and ident in lib.lookups:
        look = lib.lookups[ident]
        ways = "；".join(c.name + (f"（{c.how}）" if c.how else "") for c in look.channels)
        return f"“{look.name}”要您本人登录查看，助手看不到您的个人信息。可以这样查：{ways}。"
    topic = lib.out_of_scope.get(ident)
    return f"“{topic.name}”不在本助手的办事攻略里。{topic.refer}" if topic else ""


class RasaUnavailable(MenpaiError):
    code = "rasa_unavailable"


WAIT_MINUTES_PER_PLACE = 3
CHANNEL_TEXT_LIMITS = {"wechat": WECHAT_TEXT_LIMIT}
# A direct answer's length (URLs aside): short for fee, time and hours; room for halls in "where".
DIRECT_LIMITS = {Aspect.FEE: 150, Aspect.TIME: 150, Aspect.HOURS: 150, Aspect.WHERE: 300}
TEXT_ONLY_CHANNELS = {"wechat"}  # no HTML answer card: WeChat shows text


@dataclass
class ChatReply:
    mode: Mode
    messages: list[dict[str, Any]] = field(default_factory=list)
    rasa: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "messages": self.messages}


class RasaClient:
    """Rasa's REST channel on loopback. The HTTP API is never used."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 0.5)))

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._client.post(
                f"{self.base_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
            )
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(f"rasa did not answer: {exc!r}") from exc
        if not isinstance(data, list):
            raise RasaUnavailable("rasa answered with something that is not a list")
        messages = [m for m in data if isinstance(m, dict)]
        if not messages:
            # Every turn of ours says something (even a restart). Rasa answers nothing when an
            # action failed, e.g. the action server is down: that is not an answer to show.
            raise RasaUnavailable("rasa answered nothing: did the action server fail?")
        return messages

    async def healthy(self) -> bool:
        try:
            response = await self._client.get(f"{self.base_url}/webhooks/rest/", timeout=0.5)
            return response.status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._client.aclose()


def retrieval_metadata(kb: KnowledgeBase, result: RetrievalResult) -> dict[str, Any]:
    """The retrieval result as Rasa needs it: candidates with titles and situations."""
    data = result.as_metadata()
    candidates = []
    for c in result.candidates:
        guide = kb.library.guides[c.item]
        candidates.append(
            {
                "item": c.item,
                "title": guide.title,
                "score": c.score,
                "situation": c.situation,
                "situations": [{"id": s.id, "name": s.name} for s in guide.situations],
            }
        )
    data["candidates"] = candidates
    return data


class ChatService:
    """Runs chat turns for every channel (web widget, WeChat, API)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        store: Store,
        rasa: RasaClient,
        *,
        rasa_required: bool = False,
        base_url: str = "",
        staff_hours: str = "08:00-18:00",
    ) -> None:
        self.staff_hours = staff_hours
        self.kb = kb
        self.store = store
        self.rasa = rasa
        self.rasa_required = rasa_required
        self.base_url = base_url

    async def turn(
        self,
        session: str,
        text: str,
        *,
        plate: str | None = None,
        channel: str = "web",
        choice: dict[str, str] | None = None,
    ) -> ChatReply:
        text = (text or "").strip()
        if len(text) > MAX_MESSAGE_CHARS:
            raise BadRequest(f"message too long: {len(text)} characters, at most {MAX_MESSAGE_CHARS}")
        if not text and not choice:
            raise BadRequest("empty message: send some text or a choice")
        if plate and plate.upper() not in self.kb.library.plates:
            raise BadRequest(f"unknown door plate {plate!r}")
        plate = plate.upper() if plate else None
        shown = text or (choice or {}).get("label", "")
        conv = self.store.conversations.open_turn(session, shown or "(选择)", channel=channel, plate=plate)
        plate = plate or conv.plate
        events = [event_row("question", plate=plate, town=self._town(plate), detail=shown)]
        if not resident_talks_to_bot(conv.mode):
            # With a person (or waiting for one): the message goes to staff, not to Rasa.
            self.store.conversations.close_turn(session, [], events=events)
            return ChatReply(conv.mode, [self.queue_message(session)] if conv.mode is Mode.WAITING else [])
        if conv.mode is Mode.RESOLVED:
            self.store.conversations.apply(session, HandoffEvent.REOPEN)
        result = await asyncio.to_thread(self.kb.retriever.search, text or shown)
        metadata: dict[str, Any] = {"plate": plate, "retrieval": retrieval_metadata(self.kb, result)}
        if conv.item in self.kb.library.guides:
            # What the words say about the item talked about so far: a typed reply to
            # "您是哪种情况？" or a follow-up that names the situation.
            metadata["current"] = {
                "item": conv.item,
                "situation": self.kb.retriever.situation_for(conv.item, text or shown),
            }
        message = text
        if choice:
            metadata["choice"] = choice
            message = "/choose_option"
        rasa_up = True
        try:
            payloads = await self.rasa.send(session, message, metadata)
        except RasaUnavailable as exc:
            if self.rasa_required:
                raise
            logger.warning("answering from retrieval alone: %s", exc)
            rasa_up = False
            payloads = self._fallback(result, choice)
        messages = []
        replies: list[tuple[str, str, dict[str, Any] | None]] = []
        item = None
        mode = Mode.BOT
        for raw in payloads:
            payload = raw.get("custom") if isinstance(raw.get("custom"), dict) else None
            if payload is None and raw.get("text"):
                payload = {"kind": "text", "text": raw["text"]}
            if payload is None:
                continue
            if result.declined_topic and payload.get("kind") in ("decline", "rephrase"):
                kind, _ = declined_kind(result.declined_topic)
                payload = {**payload, "refer": self.referral(result.declined_topic), "refer_kind": kind.value}
                events.append(event_row(kind.value, plate=plate, detail=f"{result.declined_topic} {text}"[:500]))
            rendered = self.render(
                payload,
                plate,
                retrieval_only=not rasa_up,
                text_limit=CHANNEL_TEXT_LIMITS.get(channel),
                html=channel not in TEXT_ONLY_CHANNELS,
                said=text or shown,
            )
            if rendered["kind"] == "handoff":
                mode = self.request_human(session, str(payload.get("reason") or "asked"), plate)
            if rendered.get("item"):
                item = rendered["item"]
                if rendered["kind"] == "answer":
                    events.append(event_row("answer", plate=plate, item=item))
            replies.append((rendered["text"], rendered["kind"], payload))
            messages.append(rendered)
            if rendered["kind"] == "handoff":
                messages.append(self.queue_message(session))
        if not messages:
            messages.append({"kind": "text", "text": TEXTS["rephrase"]})
        if text and unanswered(payloads_of(payloads), declined=bool(result.declined_topic)):
            events.append(event_row("unanswered", plate=plate, detail=text))
        self.store.conversations.close_turn(session, replies, item=item, events=events)
        return ChatReply(mode, messages, rasa_up)

    def request_human(self, session: str, reason: str, plate: str | None) -> Mode:
        """Put the chat in the staff queue (idempotent when already there)."""
        try:
            mode = self.store.conversations.apply(session, HandoffEvent.REQUEST, reason=reason)
        except IllegalTransition as exc:
            mode = exc.mode
        self.store.analytics.record("help_request", plate=plate, detail=reason)
        return mode

    def staff_on_duty(self, now: dt.datetime | None = None) -> bool:
        if self.staff_hours == "always":
            return True
        local = (now or dt.datetime.now(dt.UTC)).astimezone(CHINA_TZ)
        start, end = self.staff_hours.split("-")
        return local.weekday() < 5 and start <= local.strftime("%H:%M") < end

    def queue_message(self, session: str) -> dict[str, Any]:
        if not self.staff_on_duty():
            return {"kind": "text", "text": TEXTS["after_hours"].format(hours=self.staff_hours), "offer_message": True}
        place = self.store.conversations.queue_position(session)
        ahead = max(0, place - 1)
        return {
            "kind": "text",
            "text": TEXTS["waiting"].format(ahead=ahead, minutes=max(1, place) * WAIT_MINUTES_PER_PLACE),
            "queue": {"position": place, "expected_minutes": max(1, place) * WAIT_MINUTES_PER_PLACE},
            "offer_message": True,
        }

    def _fallback(self, result: RetrievalResult, choice: dict[str, str] | None) -> list[dict[str, Any]]:
        """What Rasa would have said, from retrieval alone, plus the human offer."""
        if choice and choice.get("kind") == "situation" and choice.get("item"):
            return [
                {
                    "custom": {
                        "kind": "answer",
                        "item": choice["item"],
                        "situation": choice["value"],
                        "aspect": "materials",
                    }
                }
            ]
        if choice and choice.get("kind") == "item":
            return [{"custom": {"kind": "answer", "item": choice["value"], "situation": None, "aspect": "materials"}}]
        if HUMAN_REQUEST.search(result.normalized):
            return [{"custom": {"kind": "handoff", "reason": "asked"}}]
        top = result.top
        if top is None:
            return [{"custom": {"kind": "rephrase", "key": "nothing_found", "offer_human": True}}]
        return [
            {
                "custom": {
                    "kind": "answer",
                    "item": top.item,
                    "situation": top.situation,
                    "aspect": (result.aspect or Aspect.MATERIALS).value,
                }
            }
        ]

    def render(
        self,
        payload: dict[str, Any],
        plate: str | None,
        *,
        retrieval_only: bool = False,
        text_limit: int | None = None,
        html: bool = True,
        said: str = "",
    ) -> dict[str, Any]:
        """Turn a structured payload into a message for the channel (``html``: also the answer card).

        A follow-up about one aspect gets the direct answer only (the card collapsed on web, a
        link in text); a first question about an aspect gets the direct answer first, then the card.
        """
        kind = payload.get("kind")
        if kind == "answer" and payload.get("item") in self.kb.library.guides:
            lng = lat = None
            if plate and plate in self.kb.library.plates:
                p = self.kb.library.plates[plate]
                lng, lat = p.lng, p.lat
            aspect = Aspect(payload.get("aspect") or "materials")
            answer = self.kb.answer(payload["item"], payload.get("situation"), aspect, lng=lng, lat=lat)
            answer.retrieval_only = retrieval_only
            answer.url = f"{self.base_url}{answer.url}"
            location = (lng, lat) if lng is not None and lat is not None else None
            direct = direct_answer(self.kb.library, answer, aspect, said, location=location)
            follow_up = bool(payload.get("follow_up")) and direct is not None
            if follow_up and direct is not None:
                text = fits(direct.text, DIRECT_LIMITS.get(direct.aspect, 220)) + f"\n详情：{answer.url}"
            elif direct is not None:
                lead = fits(direct.text, DIRECT_LIMITS.get(direct.aspect, 220))
                text = lead + "\n" + render_text(answer, text_limit - len(lead) - 1 if text_limit else None)
            else:
                text = render_text(answer, text_limit)
            rendered = {
                "kind": "answer",
                "item": answer.item,
                "situation": answer.situation,
                "aspect": aspect.value,
                "direct": follow_up,
                "text": text,
                "offer_human": retrieval_only,
            }
            if html:
                card = render_html(answer)
                if follow_up:
                    card = f'<details class="card-more"><summary>查看完整告知单（要带的材料）</summary>{card}</details>'
                if direct is not None:
                    lead_text = fits(direct.text, DIRECT_LIMITS.get(direct.aspect, 220))
                    card = f'<p class="direct-answer">{escape(lead_text)}</p>{card}'
                rendered["html"] = card
            return rendered
        if kind == "choices":
            key = "choose_situation" if payload.get("choice_kind") == "situation" else "choose_item"
            return {
                "kind": "choices",
                "item": payload.get("item"),
                "choice_kind": payload.get("choice_kind"),
                "text": TEXTS[key],
                "choices": payload.get("options") or [],
            }
        if kind == "handoff":
            return {"kind": "handoff", "text": TEXTS["handoff"], "reason": payload.get("reason")}
        text = payload.get("text") or TEXTS.get(str(payload.get("key")), TEXTS["rephrase"])
        refer_kind = payload.get("refer_kind")
        if payload.get("refer") and refer_kind in (Declined.REFERRAL.value, Declined.LOOKUP.value):
            # An honest referral is the answer: no "I can't help" after it.
            text = f"{payload['refer']}\n{TEXTS['refer_more']}"
        elif payload.get("refer"):
            text = f"{payload['refer']}\n{text}"
        rendered = {"kind": "text", "text": text, "offer_human": bool(payload.get("offer_human"))}
        if refer_kind:
            rendered["refer_kind"] = refer_kind
        return rendered

    def referral(self, key: str) -> str:
        return referral_text(self.kb.library, key)

    def _town(self, plate: str | None) -> str | None:
        p = self.kb.library.plates.get(plate or "")
        return p.town if p else None
