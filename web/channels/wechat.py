"""WeChat official account: the message server (/wechat) and the customer-service channel.

Protocol pieces come from wechatpy (AES safe mode, XML parsing, replies). What is
ours: the URL signature compared in constant time, the replay guard (a timestamp
within ``max_skew_seconds`` of now, a nonce seen once), safe mode required once an
EncodingAESKey is configured, de-duplication of WeChat's retries, the 5-second rule
(answer passively when the bot is fast, else reply ``success`` and deliver
through the customer-service API), access_token caching with a single refresh
under concurrency, and keeping an answer that cannot be delivered (45015,
outside the 48-hour window) for the resident's next message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import xmltodict
from wechatpy import create_reply, parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException

from knowledge.errors import BadRequest, MenpaiError
from knowledge.halls import nearest_halls
from knowledge.schema import HallLevel, plate_code
from knowledge.service import KnowledgeBase
from web.chat.handoff import resident_talks_to_bot
from web.chat.turn import ChatService
from web.db.codes import normalize_code
from web.db.engine import in_thread
from web.db.store import Store
from web.db.tables import Role
from web.helpdesk.images import clean_photo
from web.helpdesk.precheck import status_text
from web.render.messages import ChatMessage, MessageKind
from web.render.sentences import SAY
from web.render.wechat import choices_text, fit, join

logger = logging.getLogger(__name__)

MAX_XML_BYTES = 32 * 1024
CODE_SHAPE = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$")  # a 帮办 query code (web.db.codes)


TOKEN_MARGIN = 300  # refresh the access_token five minutes before it expires
TOKEN_ERRORS = {40001, 40014, 42001}
OUT_OF_WINDOW = 45015


class WeChatForbidden(MenpaiError):
    status = 403
    code = "bad_signature"


class WeChatAPIError(MenpaiError):
    code = "wechat_api_error"

    def __init__(self, errcode: int, errmsg: str) -> None:
        self.errcode = errcode
        super().__init__(f"WeChat API error {errcode}: {errmsg}")


@dataclass
class WeChatConfig:
    token: str
    appid: str
    secret: str
    aes_key: str = ""
    api_base: str = "https://api.weixin.qq.com"
    passive_seconds: float = 4.0
    max_skew_seconds: int = 300  # a timestamp further from now, or a nonce seen within it, is refused
    max_photo_bytes: int = 5_000_000  # a resident's image larger than this is not kept


def signature_of(*parts: str) -> str:
    """WeChat's signature: sha1 over the sorted parts (URL: token, timestamp, nonce; safe mode: + Encrypt)."""
    return hashlib.sha1(b"".join(sorted(p.encode() for p in parts))).hexdigest()


def has_dtd(text: str) -> bool:
    upper = text.upper()
    return "<!DOCTYPE" in upper or "<!ENTITY" in upper


class TokenCache:
    """access_token cached with its expiry; concurrent callers share one refresh."""

    def __init__(self, client: httpx.AsyncClient, config: WeChatConfig) -> None:
        self.client = client
        self.config = config
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0

    async def get(self, *, stale: str | None = None) -> str:
        """A valid token. With ``stale``, the caller saw that token rejected: refresh once."""
        if self._token and self._token != stale and time.monotonic() < self._expires:
            return self._token
        async with self._lock:
            # Another caller may have refreshed while we waited for the lock.
            if self._token and self._token != stale and time.monotonic() < self._expires:
                return self._token
            r = await self.client.get(
                f"{self.config.api_base}/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.config.appid, "secret": self.config.secret},
            )
            data = r.json()
            if "access_token" not in data:
                raise WeChatAPIError(int(data.get("errcode", -1)), str(data.get("errmsg", "")))
            self.refreshes += 1
            self._token = str(data["access_token"])
            self._expires = time.monotonic() + int(data.get("expires_in", 7200)) - TOKEN_MARGIN
            return self._token


class WeChatAPI:
    def __init__(self, config: WeChatConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.client = client or httpx.AsyncClient(timeout=5.0)
        self.tokens = TokenCache(self.client, config)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        token = await self.tokens.get()
        for attempt in range(2):
            r = await self.client.post(f"{self.config.api_base}{path}", params={"access_token": token}, json=body)
            data: dict[str, Any] = r.json()
            code = int(data.get("errcode", 0))
            if code in TOKEN_ERRORS and attempt == 0:
                token = await self.tokens.get(stale=token)
                continue
            if code:
                raise WeChatAPIError(code, str(data.get("errmsg", "")))
            return data
        raise WeChatAPIError(40001, "token refused twice")

    async def send_text(self, openid: str, text: str) -> None:
        await self._post(
            "/cgi-bin/message/custom/send", {"touser": openid, "msgtype": "text", "text": {"content": text}}
        )

    async def get_media(self, media_id: str) -> tuple[bytes, str]:
        """A temporary media file (a resident's image or voice) and its content type (GET /cgi-bin/media/get).

        WeChat answers the file itself, or a JSON error (40007 invalid media_id, 40001 a stale token).
        """
        token = await self.tokens.get()
        for attempt in range(2):
            r = await self.client.get(
                f"{self.config.api_base}/cgi-bin/media/get", params={"access_token": token, "media_id": media_id}
            )
            kind = r.headers.get("content-type", "").split(";")[0].strip()
            if kind in ("application/json", "text/plain"):
                data: dict[str, Any] = r.json()
                code = int(data.get("errcode", -1))
                if code in TOKEN_ERRORS and attempt == 0:
                    token = await self.tokens.get(stale=token)
                    continue
                raise WeChatAPIError(code, str(data.get("errmsg", "")))
            r.raise_for_status()
            return r.content, kind
        raise WeChatAPIError(40001, "token refused twice")

    async def plate_qrcode(self, plate: str) -> dict[str, Any]:
        """A permanent parametric QR code whose scene is the plate code (opens the OA chat)."""
        return await self._post(
            "/cgi-bin/qrcode/create",
            {
                "action_name": "QR_LIMIT_STR_SCENE",
                "action_info": {"scene": {"scene_str": plate}},
            },
        )


def conversation_id(openid: str) -> str:
    return f"wx-{openid}"[:64]


RETRY_BASE = 2.0  # seconds before the first retry of a text WeChat's API did not take; doubling
RETRY_CAP = 300.0
HELD_ERRORS = {OUT_OF_WINDOW, 45047}  # outside the 48-hour window / over the replies per message


class WeChatChannel:
    """Delivery through the customer-service API. Every text is written to the outbox first and
    marked sent once WeChat took it: a text WeChat refuses for now (45015) waits for the resident's
    next message; one the API did not take (network, 5xx) is retried by ``sweep`` — in every web
    copy, at startup and every few seconds — so a restart loses none."""

    def __init__(self, api: WeChatAPI, store: Store) -> None:
        self.api = api
        self.store = store

    async def send(self, conversation_id: str, text: str) -> None:
        await in_thread(self.store.outbox.add, conversation_id, text)
        await self.flush(conversation_id)

    async def flush(self, conversation_id: str) -> bool:
        """Send every unsent text of the conversation as one message; True when WeChat took it."""
        kept = await in_thread(self.store.outbox.claim, conversation_id)
        if not kept:
            return False
        ids = [k.id for k in kept]
        openid = conversation_id.removeprefix("wx-")
        try:
            await self.api.send_text(openid, join([k.text for k in kept]))
        except (WeChatAPIError, httpx.HTTPError) as exc:
            reason = undelivered_reason(exc)
            logger.warning("WeChat delivery to %s failed (%s); kept in the outbox", conversation_id, exc)
            fresh = [k.text for k in kept if not k.held and k.attempts == 0]  # staff hear of each text once
            if isinstance(exc, WeChatAPIError) and exc.errcode in HELD_ERRORS:
                await in_thread(self.store.outbox.hold, ids, reason)
                await in_thread(self.note, conversation_id, fresh, reason, SAY["wechat_kept_held"])
            else:
                attempts = max(k.attempts for k in kept) + 1
                await in_thread(self.store.outbox.retry, ids, reason, min(RETRY_CAP, RETRY_BASE * 2 ** (attempts - 1)))
                await in_thread(self.note, conversation_id, fresh, reason, SAY["wechat_kept_retry"])
            return False
        await in_thread(self.store.outbox.sent, ids)
        held = sum(1 for k in kept if k.held)
        if held:
            await in_thread(self.note, conversation_id, [], "", SAY["wechat_backlog_sent"].format(count=held))
        return True

    async def sweep(self) -> int:
        """Send what is due in every conversation (texts a restart or an outage left); how many went out."""
        done = 0
        for conv in await in_thread(self.store.outbox.due):
            done += await self.flush(conv)
        return done

    async def run_forever(self, interval: float = 5.0) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # keep the loop alive; the outbox keeps the work
                logger.exception("WeChat outbox sweep")
            await asyncio.sleep(interval)

    def note(self, conversation_id: str, texts: list[str], reason: str, sentence: str) -> None:
        """Tell staff in the transcript (a staff-only note) what has not arrived, or that it went out."""
        if self.store.conversations.maybe(conversation_id) is None:
            return
        if texts:
            preview = texts[0][:30] + ("…" if len(texts[0]) > 30 else "")
            text = sentence.format(reason=reason, preview=preview, count=len(texts))
        elif reason:
            return
        else:
            text = sentence
        self.store.conversations.add_message(conversation_id, Role.NOTE, text, "note")


def undelivered_reason(exc: BaseException) -> str:
    if isinstance(exc, WeChatAPIError) and exc.errcode == OUT_OF_WINDOW:
        return "居民超过 48 小时没有互动，微信不允许主动发消息"
    if isinstance(exc, WeChatAPIError):
        return f"微信接口错误 {exc.errcode}"
    return "连不上微信接口"


class WeChatService:
    """Handles one request to /wechat."""

    def __init__(
        self, config: WeChatConfig, kb: KnowledgeBase, store: Store, chat: ChatService, channel: WeChatChannel
    ) -> None:
        self.config = config
        self.kb = kb
        self.store = store
        self.chat = chat
        self.channel = channel
        self.crypto = WeChatCrypto(config.token, config.aes_key, config.appid) if config.aes_key else None
        self.pending: set[asyncio.Task[Any]] = set()
        self.forget: Callable[[str, str], object] | None = None  # (conversation, openid): web.helpdesk.retention

    def verify(self, signature: str, timestamp: str, nonce: str) -> None:
        """A request WeChat signed, fresh, and not seen before; else WeChatForbidden (403).

        The signature covers token, timestamp and nonce only, so a captured request could be
        sent again: its timestamp must be within ``max_skew_seconds`` of now and its nonce
        unseen in that window (the pair is kept in the database, so every web copy agrees).
        """
        expected = signature_of(self.config.token, timestamp, nonce)
        if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
            raise WeChatForbidden("signature check failed")
        skew = self.config.max_skew_seconds
        if not timestamp.isdigit() or abs(int(timestamp) - self.kb.clock.now().timestamp()) > skew:
            raise WeChatForbidden(f"timestamp more than {skew} s from now")
        if not nonce or not self.store.inbound.claim_nonce(nonce, timestamp, dt.timedelta(seconds=skew)):
            raise WeChatForbidden("nonce already seen (a replay)")

    def decode(self, body: bytes, params: dict[str, str]) -> str:
        if len(body) > MAX_XML_BYTES:
            raise BadRequest(f"message body over {MAX_XML_BYTES // 1024} KB")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("message body is not UTF-8") from None
        if has_dtd(text):
            raise BadRequest("DTDs and entities are not accepted")
        safe_mode = params.get("encrypt_type", "raw") == "aes"
        if self.crypto is not None and not safe_mode:
            # With an EncodingAESKey configured, a plaintext message is a downgrade: refuse it.
            raise WeChatForbidden("safe mode (encrypt_type=aes) is required")
        if safe_mode:
            if self.crypto is None:
                raise BadRequest("safe mode message but no EncodingAESKey is configured")
            text = self._decrypt(text, params)
            if has_dtd(text):
                raise BadRequest("DTDs and entities are not accepted")
        return text

    def _decrypt(self, envelope: str, params: dict[str, str]) -> str:
        """The message inside a safe-mode envelope, once its msg_signature checks (constant time)."""
        if not params.get("msg_signature"):
            raise WeChatForbidden("msg_signature missing")
        try:
            encrypt = str(xmltodict.parse(envelope)["xml"]["Encrypt"])
        except Exception:  # expat / a missing element: not a WeChat envelope
            raise BadRequest("malformed XML: no Encrypt element") from None
        expected = signature_of(self.config.token, params.get("timestamp", ""), params.get("nonce", ""), encrypt)
        if not hmac.compare_digest(expected.encode(), params["msg_signature"].lower().encode()):
            raise WeChatForbidden("msg_signature check failed")
        assert self.crypto is not None
        try:
            return str(PrpCrypto(self.crypto.key).decrypt(encrypt, self.config.appid))
        except (InvalidAppIdException, ValueError, KeyError, TypeError, IndexError, struct.error) as exc:
            raise BadRequest(f"cannot decrypt the message: {exc.__class__.__name__}") from None

    def encode(self, reply_xml: str, params: dict[str, str]) -> str:
        if params.get("encrypt_type", "raw") == "aes" and self.crypto is not None:
            return str(self.crypto.encrypt_message(reply_xml, params.get("nonce", ""), params.get("timestamp")))
        return reply_xml

    async def handle(self, body: bytes, params: dict[str, str]) -> str:
        xml = self.decode(body, params)
        try:
            msg = parse_message(xml)
        except Exception as exc:  # xmltodict / expat raise many kinds; all mean "not WeChat XML"
            raise BadRequest(f"malformed XML: {exc.__class__.__name__}") from None
        if msg is None or not getattr(msg, "source", None):
            raise BadRequest("malformed XML: not a WeChat message")
        key = f"msg:{msg.id}" if getattr(msg, "id", None) else f"evt:{msg.source}:{int(msg.create_time.timestamp())}"
        first, cached = await in_thread(self.store.inbound.claim, key)
        if not first:
            # A retry of something we have seen: same answer, or success while it is still being made.
            return self.encode(self._reply(msg, cached), params) if cached else "success"
        try:
            text = await self._answer(msg)
        except BaseException:
            # The turn failed (or was cancelled): let go of the MsgId, so WeChat's retry is processed.
            await in_thread(self.store.inbound.release, key)
            raise
        if text is None:
            return "success"
        await in_thread(self.store.inbound.finish, key, text)
        return self.encode(self._reply(msg, text), params)

    def _reply(self, msg: Any, text: str) -> str:
        return str(create_reply(text, msg).render())

    async def _answer(self, msg: Any) -> str | None:
        conv = conversation_id(msg.source)
        if msg.type == "text":
            text = str(msg.content)
            if (status := await in_thread(self._code_status, text)) is not None:
                return status
            return await self._text(conv, msg.source, text, getattr(msg, "id", None))
        if msg.type == "voice":
            return await self._voice(conv, msg)
        if msg.type == "image":
            return await self._image(conv, msg)
        if msg.type == "event" and msg.event in ("subscribe_scan", "scan"):
            return await in_thread(self._welcome, conv, str(msg.scene_id))
        if msg.type == "event" and msg.event == "subscribe":
            return SAY["wechat_subscribe"]
        if msg.type == "event" and msg.event == "unsubscribe":
            # The platform requires it: a resident who unsubscribes is forgotten (conversation,
            # messages, photos, outbox, Rasa's tracker). Nothing can be sent to them any more.
            if self.forget is not None:
                await in_thread(self.forget, conv, str(msg.source))
            return None
        if msg.type == "event" and msg.event == "location":
            return self._nearby(float(msg.longitude), float(msg.latitude))
        if msg.type == "location":
            return self._nearby(float(msg.location_y), float(msg.location_x))
        if msg.type == "event":
            return None
        return SAY["wechat_not_text"]

    async def _voice(self, conv: str, msg: Any) -> str | None:
        """A voice message: WeChat's own speech recognition answered as the same text; without it, say so.

        ``<Recognition>`` is there when the account has speech recognition enabled. Without it the
        resident is asked to type or send 人工, and the help desk sees in the transcript that a voice
        message came (a person waiting for or talking to them would otherwise miss it).
        """
        recognised = str(getattr(msg, "recognition", "") or "").strip().rstrip("。.!！")
        if recognised:
            return await self._text(conv, msg.source, recognised, getattr(msg, "id", None))

        def note_voice() -> None:
            self.store.conversations.get_or_create(conv, "wechat")
            self.store.conversations.add_message(conv, Role.RESIDENT, SAY["wechat_voice_note"], "voice")

        await in_thread(note_voice)
        return SAY["wechat_voice"]

    async def _image(self, conv: str, msg: Any) -> str:
        """An image: acknowledged; while waiting for or talking to a person, it goes to the staff transcript.

        The file is fetched through the media API, re-encoded without EXIF and kept only for the
        retention period (``web.db.uploads``); the bot itself never sees it.
        """
        found = await in_thread(self.store.conversations.maybe, conv)
        if found is None or resident_talks_to_bot(found.mode):
            return SAY["wechat_image"]
        days = self.store.uploads.retention.days
        try:
            data, _ = await self.channel.api.get_media(str(msg.media_id))
            clean = await asyncio.to_thread(clean_photo, data, self.config.max_photo_bytes)
        except (WeChatAPIError, httpx.HTTPError, MenpaiError) as exc:
            logger.warning("WeChat image for %s not kept: %s", conv, exc)
            await in_thread(
                self.store.conversations.add_message, conv, Role.NOTE, f"居民发来的图片没能取到（{exc}）", "note"
            )
            return SAY["wechat_image_failed"]
        upload = await in_thread(self.store.uploads.save, clean, purpose="wechat", conversation_id=conv)
        await in_thread(
            self.store.conversations.add_message,
            conv,
            Role.RESIDENT,
            SAY["wechat_image_note"].format(days=days),
            "image",
            {"upload": upload.token},
        )
        return SAY["wechat_image_to_staff"].format(days=days)

    def _code_status(self, text: str) -> str | None:
        """A message that is only a 帮办 query code gets the request's status (and pre-check result)."""
        code = normalize_code(text)
        if not CODE_SHAPE.match(code):
            return None
        return status_text(self.store, self.kb, code) or SAY["wechat_code_unknown"].format(code=code)

    async def _text(self, conv: str, openid: str, text: str, msg_id: object = None) -> str | None:
        """Run the chat turn; answer passively within the budget, else deliver later.

        Texts kept in the outbox go out with the reply: taken only once the reply is made, so a
        turn that fails (or a restart meanwhile) leaves them kept. The turn is named by its MsgId
        (``chat_turns``), so WeChat's retry of a turn that failed does not store the words twice.
        """
        named = f"wx{msg_id}"[:64] if msg_id else None
        if named is not None:
            await in_thread(self.store.turns.claim, conv, named)  # the row the stored message is noted on
        task = asyncio.create_task(self.chat.turn(conv, text[:1000], channel="wechat", client_msg_id=named))
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), timeout=self.config.passive_seconds)
        except TimeoutError:
            self.pending.add(task)
            task.add_done_callback(lambda t: self._deliver_late(t, conv))
            return None
        except MenpaiError as exc:  # a bad message, or a conversation that is full: say why
            if exc.status >= 500:
                raise
            return join([*await self._backlog(conv), SAY["wechat_failed"].format(error=exc)])
        return join([*await self._backlog(conv), *(self._text_of(m) for m in reply.messages)]) or None

    async def _backlog(self, conv: str) -> list[str]:
        backlog = await in_thread(self.store.outbox.take, conv)
        if backlog:
            await in_thread(self.channel.note, conv, [], "", SAY["wechat_backlog_sent"].format(count=len(backlog)))
        return backlog

    def _deliver_late(self, task: asyncio.Task[Any], conv: str) -> None:
        """The slow answer through the customer-service API (by the outbox, with what was kept there)."""
        self.pending.discard(task)
        failure = "cancelled" if task.cancelled() else task.exception()
        if failure is not None:
            logger.error("late WeChat answer for %s failed: %r", conv, failure)
            note = asyncio.create_task(in_thread(self.channel.note, conv, [], "", SAY["wechat_late_failed"]))
            self.pending.add(note)
            note.add_done_callback(self.pending.discard)
            return
        text = join([self._text_of(m) for m in task.result().messages])
        if text:
            follow = asyncio.create_task(self.channel.send(conv, text))
            self.pending.add(follow)
            follow.add_done_callback(self.pending.discard)

    def _text_of(self, message: ChatMessage) -> str:
        if message.kind is MessageKind.CHOICES:
            return choices_text(message.text, (o.label for o in message.choices))
        return message.text

    def _welcome(self, conv: str, scene: str) -> str:
        plate = self.kb.library.plates.get(plate_code(scene))
        if plate is None:
            return SAY["wechat_unknown_plate"]
        self.store.conversations.get_or_create(conv, "wechat", plate.code)
        self.store.analytics.record("scan", plate=plate.code, town=plate.town, detail="wechat")
        halls = nearest_halls(
            [h for h in self.kb.library.halls.values() if h.level is not HallLevel.VILLAGE],
            plate.lng,
            plate.lat,
            self.kb.clock.now(),
            self.kb.library.holidays,
            limit=1,
        )
        hall = halls[0] if halls else None
        near = (
            SAY["wechat_nearest"].format(
                name=hall.hall.name, distance=hall.distance_text, status=hall.status.label, phone=hall.hall.phone
            )
            if hall
            else ""
        )
        return SAY["wechat_plate"].format(address=plate.address, code=plate.code, near=near)

    def _nearby(self, lng: float, lat: float) -> str:
        halls = nearest_halls(
            self.kb.library.halls.values(), lng, lat, self.kb.clock.now(), self.kb.library.holidays, limit=3
        )
        lines = [
            f"{n.hall.name}（{n.distance_text}，{n.status.label}）{n.hall.address} 电话{n.hall.phone}" for n in halls
        ]
        return fit("\n".join([SAY["wechat_nearby"], *lines]))
