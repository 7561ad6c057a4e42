"""The web↔Rasa contract: the message metadata web sends and the payloads the actions return.

Two virtual environments cannot share code, so the bot declares the same shapes as
TypedDicts in bot/actions/actions.py and tests/web/test_contract.py pins the two
together: a kind, reason, key or field added on one side only fails that test.

Web → Rasa (message metadata)::

    {"plate": str | None,
     "retrieval": RetrievalMeta,          # one serialisation of a RetrievalResult
     "current": {"item", "situation", "named"} | absent,
     "choice": {"kind", "value", "item", "label"} | absent}

Rasa → web: each REST message carries ``custom`` (one of the payloads below) or,
for a plain utterance, ``text``. ``parse_payload`` turns one into a typed payload.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from knowledge.library import Library
from knowledge.retrieval import SWITCH_CUE, Aspect, RetrievalResult, is_question
from web.chat.handoff import asks_for_person

logger = logging.getLogger(__name__)


class PayloadKind(enum.StrEnum):
    """The dialogue acts an action returns."""

    ANSWER = "answer"
    CHOICES = "choices"
    HANDOFF = "handoff"
    DECLINE = "decline"
    REPHRASE = "rephrase"
    TEXT = "text"


class ChoiceKind(enum.StrEnum):
    SITUATION = "situation"
    ITEM = "item"


class HandoffReason(enum.StrEnum):
    ASKED = "asked"
    FAILED = "failed"
    COMPLAINT = "complaint"


# The one intent web may trigger without words: the "找人工帮办" button.
REQUEST_HUMAN_INTENT = "/request_human"
CHOOSE_OPTION_INTENT = "/choose_option"


# ------------------------------------------------------------------ Rasa → web


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class AnswerPayload:
    kind: ClassVar[PayloadKind] = PayloadKind.ANSWER
    item: str
    situation: str | None = None
    aspect: Aspect = Aspect.MATERIALS
    follow_up: bool = False  # a question about the item talked about: answered directly


@dataclass(frozen=True)
class ChoicesPayload:
    kind: ClassVar[PayloadKind] = PayloadKind.CHOICES
    choice_kind: ChoiceKind
    item: str | None
    aspect: Aspect
    options: tuple[Option, ...]


@dataclass(frozen=True)
class HandoffPayload:
    kind: ClassVar[PayloadKind] = PayloadKind.HANDOFF
    reason: HandoffReason = HandoffReason.ASKED


@dataclass(frozen=True)
class SimplePayload:
    """A decline, a request to rephrase, or a plain sentence, named by ``key`` (or given as ``text``)."""

    kind: PayloadKind
    key: str = ""
    offer_human: bool = False
    text: str = field(default="", metadata={"web_only": True})  # a plain Rasa utterance
    # Web's additions when retrieval knows who handles the question (a referral or a look-up).
    refer: str = field(default="", metadata={"web_only": True})
    refer_kind: str | None = field(default=None, metadata={"web_only": True})


Payload = AnswerPayload | ChoicesPayload | HandoffPayload | SimplePayload
SIMPLE_KINDS = (PayloadKind.DECLINE, PayloadKind.REPHRASE, PayloadKind.TEXT)


def _aspect(value: object) -> Aspect:
    try:
        return Aspect(str(value or Aspect.MATERIALS.value))
    except ValueError:
        return Aspect.MATERIALS


def parse_payload(raw: Mapping[str, Any]) -> Payload | None:
    """One REST channel message as a typed payload; None for what we cannot show (logged)."""
    custom = raw.get("custom")
    if not isinstance(custom, Mapping):
        text = raw.get("text")
        return SimplePayload(PayloadKind.TEXT, text=str(text)) if text else None
    try:
        kind = PayloadKind(str(custom.get("kind")))
    except ValueError:
        logger.warning("payload of unknown kind %r ignored", custom.get("kind"))
        return None
    if kind is PayloadKind.ANSWER:
        if not custom.get("item"):
            return None
        return AnswerPayload(
            item=str(custom["item"]),
            situation=custom.get("situation") or None,
            aspect=_aspect(custom.get("aspect")),
            follow_up=bool(custom.get("follow_up")),
        )
    if kind is PayloadKind.CHOICES:
        options = tuple(
            Option(str(o["value"]), str(o.get("label") or o["value"]))
            for o in custom.get("options") or []
            if isinstance(o, Mapping) and o.get("value")
        )
        try:
            choice_kind = ChoiceKind(str(custom.get("choice_kind")))
        except ValueError:
            choice_kind = ChoiceKind.ITEM
        return ChoicesPayload(choice_kind, custom.get("item") or None, _aspect(custom.get("aspect")), options)
    if kind is PayloadKind.HANDOFF:
        try:
            reason = HandoffReason(str(custom.get("reason") or HandoffReason.ASKED.value))
        except ValueError:
            reason = HandoffReason.ASKED
        return HandoffPayload(reason)
    return SimplePayload(
        kind,
        key=str(custom.get("key") or ""),
        offer_human=bool(custom.get("offer_human")),
        text=str(custom.get("text") or ""),
    )


def parse_payloads(raw: Sequence[Mapping[str, Any]]) -> list[Payload]:
    return [p for p in (parse_payload(r) for r in raw) if p is not None]


# ------------------------------------------------------------------ web → Rasa


@dataclass(frozen=True)
class SituationRef:
    id: str
    name: str


@dataclass(frozen=True)
class Candidate:
    item: str
    title: str
    score: float
    situation: str | None
    situations: tuple[SituationRef, ...]


@dataclass(frozen=True)
class RetrievalMeta:
    """The retrieval result as the actions read it: the one serialisation of a RetrievalResult."""

    abstain: bool
    declined_topic: str | None
    names_service: bool
    about_current: bool  # names something, but nothing beyond the current item's words: stay on it
    switch_cue: bool
    confidence: float
    aspect: str | None
    asks_person: bool  # the words ask for a person: the bot never answers those as a question
    asks_question: bool  # a question (particle, mark or words of one), not a statement
    candidates: tuple[Candidate, ...]

    @classmethod
    def of(cls, lib: Library, result: RetrievalResult) -> RetrievalMeta:
        candidates = []
        for c in result.candidates:
            guide = lib.guides[c.item]
            candidates.append(
                Candidate(
                    item=c.item,
                    title=guide.title,
                    score=round(c.score, 3),
                    situation=c.situation,
                    situations=tuple(SituationRef(s.id, s.name) for s in guide.situations),
                )
            )
        return cls(
            abstain=result.abstain,
            declined_topic=result.declined_topic,
            names_service=result.named,
            about_current=result.about_current,
            switch_cue=bool(SWITCH_CUE.search(result.normalized)),
            confidence=round(result.confidence, 3),
            aspect=result.aspect.value if result.aspect else None,
            asks_person=asks_for_person(result.normalized),
            asks_question=is_question(result.normalized),
            candidates=tuple(candidates),
        )

    def to_metadata(self) -> dict[str, Any]:
        return {
            "abstain": self.abstain,
            "declined_topic": self.declined_topic,
            "names_service": self.names_service,
            "about_current": self.about_current,
            "switch_cue": self.switch_cue,
            "confidence": self.confidence,
            "aspect": self.aspect,
            "asks_person": self.asks_person,
            "asks_question": self.asks_question,
            "candidates": [
                {
                    "item": c.item,
                    "title": c.title,
                    "score": c.score,
                    "situation": c.situation,
                    "situations": [{"id": s.id, "name": s.name} for s in c.situations],
                }
                for c in self.candidates
            ],
        }


@dataclass(frozen=True)
class Current:
    """The item talked about so far, and the situation the new words name for it (if any)."""

    item: str
    situation: str | None
    named: bool = False  # the words use the situation's own name (到期, 损坏): enough to change it


@dataclass(frozen=True)
class ChoiceMeta:
    """A tapped option (situation or item)."""

    kind: ChoiceKind
    value: str
    item: str | None = None
    label: str = ""

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> ChoiceMeta | None:
        if not raw:
            return None
        return cls(
            ChoiceKind(str(raw["kind"])), str(raw["value"]), raw.get("item") or None, str(raw.get("label") or "")
        )


@dataclass(frozen=True)
class TurnMetadata:
    plate: str | None
    retrieval: RetrievalMeta
    current: Current | None = None
    choice: ChoiceMeta | None = None

    def to_metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {"plate": self.plate, "retrieval": self.retrieval.to_metadata()}
        if self.current is not None:
            data["current"] = {
                "item": self.current.item,
                "situation": self.current.situation,
                "named": self.current.named,
            }
        if self.choice is not None:
            data["choice"] = {
                "kind": self.choice.kind.value,
                "value": self.choice.value,
                "item": self.choice.item,
                "label": self.choice.label,
            }
        return data


def retrieval_metadata(lib: Library, result: RetrievalResult) -> dict[str, Any]:
    """Shorthand used by tests and tools that talk to Rasa directly."""
    return RetrievalMeta.of(lib, result).to_metadata()
