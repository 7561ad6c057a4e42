"""One chat turn: normalise + retrieve → Rasa (REST channel) → render the payloads; a retried turn once.

When Rasa is down or slow the turn is answered from retrieval alone (marked as
such) and a person is still offered: a resident never meets a dead page.
The payloads and metadata are ``web.contract``'s; rendering is ``web.render.messages``';
when to hand over is ``web.chat.policy``'s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from knowledge.errors import BadRequest, MenpaiError
from knowledge.retrieval import RetrievalResult, declined_kind
from knowledge.schema import plate_code
from knowledge.service import KnowledgeBase
from web.chat.fallback import fallback_payloads
from web.chat.handoff import HandoffEvent, IllegalTransition, Mode, resident_talks_to_bot, withdraws_request
from web.chat.policy import HandoffPolicy
from web.chat.rasa import RasaClient, RasaUnavailable
from web.chat.routing import Router
from web.contract import (
    CHOOSE_OPTION_INTENT,
    REQUEST_HUMAN_INTENT,
    ChoiceMeta,
    Current,
    Payload,
    PayloadKind,
    RetrievalMeta,
    SimplePayload,
    TurnMetadata,
    parse_payloads,
)
from web.db.analytics import event_row
from web.db.engine import in_thread
from web.db.store import Store
from web.privacy import mask_pii
from web.render.messages import ChatMessage, MessageKind, channel_of, render_payload
from web.render.sentences import SAY, referral_text

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000
HUMAN_BUTTON_TEXT = "找人工帮办"  # what the transcript shows for the button
PERSON_WORDS = frozenset({"人工", "转人工", "找人工", "人工服务"})  # still taken when a chat is full
RETRY_WAIT_SECONDS = 10.0  # a retry waits this long for the first request's answer


class ConversationFull(MenpaiError):
    """The chat holds as many resident messages as one conversation may (``MENPAI_CHAT_MAX_MESSAGES``)."""

    status = 409
    code = "conversation_full"


class TurnInProgress(MenpaiError):
    """A retry arrived while the first request with its ``client_msg_id`` is still being answered."""

    status = 409
    code = "in_progress"


def unanswered(payloads: list[Payload], *, declined: bool = False) -> bool:
    """Did the assistant fail to answer this turn? Asked to rephrase, or declined a question
    it should know (a decline with no out-of-scope topic, referral or look-up to point to).
    A follow-up answered directly, a referral or a question back is not unanswered."""
    for p in payloads:
        if isinstance(p, SimplePayload) and p.kind is PayloadKind.REPHRASE:
            return True
        if isinstance(p, SimplePayload) and p.kind is PayloadKind.DECLINE and p.key != "refer" and not declined:
            return True
    return not payloads


@dataclass
class _Begun:
    """What a turn knows when it goes to Rasa: the words, where from, retrieval and its metadata."""

    session: str
    text: str
    shown: str
    plate: str | None
    channel: str
    result: RetrievalResult
    metadata: TurnMetadata
    events: list[dict[str, Any]]


@dataclass
class ChatReply:
    mode: Mode
    messages: list[ChatMessage] = field(default_factory=list)
    rasa: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "messages": [m.to_json() for m in self.messages]}


def turn_metadata(
    kb: KnowledgeBase, said: str, plate: str | None, item: str | None, picked: ChoiceMeta | None = None
) -> tuple[RetrievalResult, TurnMetadata]:
    """Retrieval for what the resident said and the metadata Rasa gets with it.

    ``item``: the item the conversation is about so far (what the words say about it: a typed
    reply to "您是哪种情况？" or a follow-up that names the situation). The bench sends the same
    metadata straight to Rasa, as the anchor of a turn.
    """
    talked_about = item if item in kb.library.guides else None
    # A follow-up none of whose words name another service is about the current item (about_current).
    result = kb.retriever.search(said, current=talked_about)
    current = None
    if talked_about:
        situation = kb.retriever.situation_for(talked_about, said)
        current = Current(talked_about, situation, kb.retriever.names_situation(talked_about, said, situation))
    return result, TurnMetadata(plate, RetrievalMeta.of(kb.library, result), current, picked)


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
        policy: HandoffPolicy | None = None,
        router: Router | None = None,
        max_messages: int = 400,
    ) -> None:
        self.max_messages = max_messages
        self.kb = kb
        self.store = store
        self.rasa = rasa
        self.rasa_required = rasa_required
        self.base_url = base_url
        self.policy = policy or HandoffPolicy()
        self.router = router

    async def turn(
        self,
        session: str,
        text: str,
        *,
        plate: str | None = None,
        channel: str = "web",
        choice: dict[str, str] | None = None,
        human: bool = False,
        owner: str | None = None,
        client_msg_id: str | None = None,
    ) -> ChatReply:
        """One resident message (or a tapped choice, or the explicit request for a person).

        ``owner``: a web chat's owner (``web.chat.owner``); the conversation must be theirs.
        ``client_msg_id``: a named turn claimed by ``answer_once``; its words are stored once.
        """
        text = (text or "").strip()
        if len(text) > MAX_MESSAGE_CHARS:
            raise BadRequest(f"message too long: {len(text)} characters, at most {MAX_MESSAGE_CHARS}")
        if not text and not choice and not human:
            raise BadRequest("empty message: send some text or a choice")
        if plate and plate_code(plate) not in self.kb.library.plates:
            raise BadRequest(f"unknown door plate {plate!r}")
        plate = plate_code(plate) or None
        picked = ChoiceMeta.of(choice)
        # A turn leaves the event loop twice: once to store the words and retrieve, once to render
        # and store the answer (each hop costs the loop a wake-up; five of them were a share of web's CPU).
        begun = await in_thread(self._begin, session, text, plate, channel, picked, human, owner, client_msg_id)
        if isinstance(begun, ChatReply):
            return begun
        # Rasa's tracker keeps every message verbatim: it gets the words with ID and phone numbers
        # masked (retrieval used the original; the transcript is masked when stored).
        message = mask_pii(text)
        if picked is not None:
            message = CHOOSE_OPTION_INTENT
        elif human:
            message = REQUEST_HUMAN_INTENT
        rasa_up = True
        try:
            payloads = parse_payloads(await self.rasa.send(session, message, begun.metadata.to_metadata()))
        except RasaUnavailable as exc:
            if self.rasa_required:
                raise
            logger.warning("answering from retrieval alone: %s", exc)
            rasa_up = False
            payloads = fallback_payloads(begun.result, picked, wants_person=human)
        return await in_thread(self._finish, begun, payloads, rasa_up)

    def _begin(
        self,
        session: str,
        text: str,
        plate: str | None,
        channel: str,
        picked: ChoiceMeta | None,
        human: bool,
        owner: str | None,
        client_msg_id: str | None,
    ) -> _Begun | ChatReply:
        """The resident's words stored and retrieval done (a worker thread's part before Rasa);
        a ChatReply at once when the chat is with a person, not the bot."""
        wants_person = human or text in PERSON_WORDS
        shown = text or (picked.label if picked else "") or (HUMAN_BUTTON_TEXT if human else "")
        conv = self.store.conversations.open_turn(
            session,
            shown or "(选择)",
            channel=channel,
            plate=plate,
            owner=owner,
            client_msg_id=client_msg_id,
            # Bounded: a conversation does not grow for ever. The request for a person still goes through.
            at_most=None if wants_person else self.max_messages,
        )
        if conv.full:
            raise ConversationFull(SAY["chat_full"].format(count=self.max_messages))
        plate = plate or conv.plate
        events = [event_row("question", plate=plate, town=self._town(plate), detail=shown)]
        mode = conv.mode
        if mode is Mode.WAITING and withdraws_request(text):
            # "算了，我自己问，居住证签注收钱吗": nobody has taken the chat yet; the bot answers again.
            try:
                mode = self.store.conversations.apply(session, HandoffEvent.WITHDRAW)
            except IllegalTransition as exc:  # a staff member took it meanwhile: they answer
                mode = exc.mode
        if not resident_talks_to_bot(mode):
            # With a person (or waiting for one): the message goes to staff, not to Rasa.
            self.store.conversations.close_turn(session, [], events=events)
            return ChatReply(mode, [self.queue_message(session)] if mode is Mode.WAITING else [])
        if mode is Mode.RESOLVED:
            self.store.conversations.apply(session, HandoffEvent.REOPEN)
        result, metadata = turn_metadata(self.kb, text or shown, plate, conv.item, picked)
        return _Begun(session, text, shown, plate, channel, result, metadata, events)

    def _finish(self, begun: _Begun, payloads: list[Payload], rasa_up: bool) -> ChatReply:
        """Render the payloads for the channel, hand over when one says so, store the replies
        and the turn's events (a worker thread's part after Rasa)."""
        session, plate, result, events = begun.session, begun.plate, begun.result, begun.events
        text, shown = begun.text, begun.shown
        channel_view = channel_of(begun.channel)
        messages: list[ChatMessage] = []
        replies: list[tuple[str, str, dict[str, Any] | None]] = []
        item = None
        mode = Mode.BOT
        for payload in payloads:
            if (
                result.declined_topic
                and isinstance(payload, SimplePayload)
                and payload.kind in (PayloadKind.DECLINE, PayloadKind.REPHRASE)
            ):
                kind, _ = declined_kind(result.declined_topic)
                payload = SimplePayload(
                    payload.kind,
                    key=payload.key,
                    offer_human=payload.offer_human,
                    text=payload.text,
                    refer=referral_text(self.kb.library, result.declined_topic),
                    refer_kind=kind.value,
                )
                events.append(event_row(kind.value, plate=plate, detail=f"{result.declined_topic} {text}"[:500]))
            rendered = render_payload(
                self.kb,
                payload,
                channel_view,
                plate=plate,
                retrieval_only=not rasa_up,
                said=text or shown,
                base_url=self.base_url,
            )
            if rendered.kind is MessageKind.HANDOFF:
                mode = self.request_human(session, rendered.reason or "asked", plate)
            if rendered.item:
                item = rendered.item
                if rendered.kind is MessageKind.ANSWER:
                    events.append(event_row("answer", plate=plate, item=item))
            replies.append((rendered.text, rendered.kind.value, _stored(payload)))
            messages.append(rendered)
            if rendered.kind is MessageKind.HANDOFF:
                messages.append(self.queue_message(session))
        if not messages:
            messages.append(ChatMessage(MessageKind.TEXT, SAY["rephrase"]))
        if text and unanswered(payloads, declined=bool(result.declined_topic)):
            events.append(event_row("unanswered", plate=plate, detail=text))
        self.store.conversations.close_turn(session, replies, item=item, events=events)
        return ChatReply(mode, messages, rasa_up)

    def request_human(self, session: str, reason: str, plate: str | None) -> Mode:
        """Put the chat in the staff queue (idempotent when already there)."""
        try:
            mode = self.store.conversations.apply(session, HandoffEvent.REQUEST, reason=reason)
        except IllegalTransition as exc:
            mode = exc.mode
        else:
            if self.router is not None:
                self.router.offer(session)
        self.store.analytics.record("help_request", plate=plate, detail=reason)
        return mode

    def staff_on_duty(self) -> bool:
        return self.policy.on_duty()

    def queue_message(self, session: str) -> ChatMessage:
        position = self.store.conversations.queue_position(session) if self.policy.on_duty() else 0
        staffed = self.router is None or self.router.anyone_online()
        return self.policy.queue_message(position, staffed=staffed)

    def _town(self, plate: str | None) -> str | None:
        p = self.kb.library.plates.get(plate or "")
        return p.town if p else None


def _stored(payload: Payload) -> dict[str, Any]:
    """The payload as the transcript keeps it (what staff see of the bot's act)."""
    data = {k: v for k, v in dataclasses.asdict(payload).items() if v not in (None, "", (), False)}
    return {"kind": payload.kind.value, **data}


async def answer_once(
    store: Store, session: str, client_msg_id: str | None, answer: Callable[[], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """The reply JSON of a turn. A retry with the same ``client_msg_id`` in the same chat gets the
    stored JSON and stores nothing new (it waits while the first request is still answering, and
    takes the turn over when that one failed or its process died: ``web.db.turns.STALE``)."""
    if client_msg_id is None:
        return await answer()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RETRY_WAIT_SECONDS
    while True:
        if await in_thread(store.turns.claim, session, client_msg_id):
            try:
                out = await answer()
            except BaseException:
                # failed or cancelled: a retry may answer it (shielded: a cancelled request still lets go)
                await asyncio.shield(in_thread(store.turns.release, session, client_msg_id))
                raise
            await in_thread(store.turns.finish, session, client_msg_id, out)
            return out
        _, reply = await in_thread(store.turns.reply, session, client_msg_id)
        if reply is not None:
            return reply
        if loop.time() > deadline:
            raise TurnInProgress("这条消息还在处理中，请稍后再发一次")
        await asyncio.sleep(0.2)
