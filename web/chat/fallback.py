"""What Rasa would have said, from retrieval alone, when Rasa is down or slow (plus the human offer)."""

from __future__ import annotations

from knowledge.retrieval import Aspect, RetrievalResult
from web.chat.handoff import asks_for_person
from web.contract import (
    AnswerPayload,
    ChoiceKind,
    ChoiceMeta,
    HandoffPayload,
    HandoffReason,
    Payload,
    PayloadKind,
    SimplePayload,
)


def fallback_payloads(
    result: RetrievalResult, choice: ChoiceMeta | None, *, wants_person: bool = False
) -> list[Payload]:
    if choice is not None and choice.kind is ChoiceKind.SITUATION and choice.item:
        return [AnswerPayload(item=choice.item, situation=choice.value, aspect=Aspect.MATERIALS)]
    if choice is not None and choice.kind is ChoiceKind.ITEM:
        return [AnswerPayload(item=choice.value, situation=None, aspect=Aspect.MATERIALS)]
    if wants_person or asks_for_person(result.normalized):
        return [HandoffPayload(HandoffReason.ASKED)]
    top = result.top
    if top is None:
        return [SimplePayload(PayloadKind.REPHRASE, key="nothing_found", offer_human=True)]
    return [AnswerPayload(item=top.item, situation=top.situation, aspect=result.aspect or Aspect.MATERIALS)]
