"""Custom actions of the menpai assistant (rasa-sdk 3.6, Python 3.10).

Actions are thin: they read web's retrieval result from the message metadata
and the slots, decide the dialogue act, and return a structured payload —
never finished prose. web renders the payload from the guide for the channel.

Metadata web sends with every message::

    {"plate": "NA010001" | null,
     "retrieval": {"abstain": bool, "confidence": float, "aspect": str | null,
                   "declined_topic": str | null,   # "ref:<id>", "look:<id>" or an out-of-scope id
                   "candidates": [{"item", "title", "score", "situation",
                                   "situations": [{"id", "name"}]}]},
     "choice": {"kind": "situation" | "item", "value": str} | null}
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Set, Text, TypedDict

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, Restarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

MAX_FAILED = 2  # after two failed attempts a person takes over
MAX_REPLY_CHARS = 16  # a typed reply to "您是哪种情况？" is short; a longer text is a question of its own
UNSURE_FLOOR = 0.005  # below this confidence the candidates are not worth offering (web abstains below 0.02)
SWITCH_CONFIDENCE = 0.6  # a follow-up that clearly names another item switches to it
REFERRAL_KEYS = ("ref:", "look:")  # declined topics that are referrals / look-ups (web's retrieval names)

ASPECT_OF_INTENT = {
    "ask_fee": "fee",
    "ask_time": "time",
    "ask_where": "where",
    "ask_hours": "hours",
    "ask_online": "online",
}
# Aspects web detects from the words (regexes over the normalised text) that the NLU has no intent for.
DIRECT_ASPECTS = {"fee", "time", "where", "hours", "online", "proxy", "mail", "validity", "trips", "phone", "document",
                  "amount"}


class Option(TypedDict):
    value: str
    label: str


class AnswerPayload(TypedDict, total=False):
    kind: Literal["answer"]
    item: str
    situation: Optional[str]
    aspect: str
    follow_up: bool  # a question about the item talked about: web answers it directly


class ChoicesPayload(TypedDict):
    kind: Literal["choices"]
    choice_kind: Literal["situation", "item"]
    item: Optional[str]
    aspect: str
    options: List[Option]


class HandoffPayload(TypedDict):
    kind: Literal["handoff"]
    reason: Literal["asked", "failed", "complaint"]


class SimplePayload(TypedDict):
    kind: Literal["decline", "rephrase", "text"]
    key: str
    offer_human: bool


class SituationRef(TypedDict):
    id: str
    name: str


class Candidate(TypedDict, total=False):
    item: str
    title: str
    score: float
    situation: Optional[str]
    situations: List[SituationRef]


# The metadata web sends (web/contract.py declares the same; tests/web/test_contract.py pins both).
class RetrievalMetadata(TypedDict, total=False):
    abstain: bool
    declined_topic: Optional[str]
    names_service: bool
    about_current: bool
    switch_cue: bool
    confidence: float
    aspect: Optional[str]
    asks_person: bool  # the words ask for a person (人工, 客服, 投诉 …): a request, not a question
    asks_question: bool  # a question (吗, 能不能, 怎么 …), not a statement such as a complaint
    candidates: List[Candidate]


class CurrentMetadata(TypedDict, total=False):
    item: str
    situation: Optional[str]
    named: bool


class ChoiceMetadata(TypedDict, total=False):
    kind: Literal["situation", "item"]
    value: str
    item: Optional[str]
    label: str


class Metadata(TypedDict, total=False):
    plate: Optional[str]
    retrieval: RetrievalMetadata
    current: CurrentMetadata
    choice: ChoiceMetadata


def retrieval_of(tracker: Tracker) -> Dict[str, Any]:
    metadata = tracker.latest_message.get("metadata") or {}
    retrieval = metadata.get("retrieval") or {}
    return retrieval if isinstance(retrieval, dict) else {}


def candidates_of(retrieval: Dict[str, Any]) -> List[Candidate]:
    return [c for c in retrieval.get("candidates") or [] if isinstance(c, dict) and c.get("item")]


def names_a_service(retrieval: Dict[str, Any]) -> bool:
    """Retrieval is sure the words are about one of the guides."""
    return bool(candidates_of(retrieval)) and not retrieval.get("abstain", True)


def answer_events(
    dispatcher: CollectingDispatcher, candidate: Candidate, aspect: str, situation: Optional[str] = None
) -> List[EventType]:
    """Answer for one item, or ask back for the situation when it matters and is unknown."""
    item = candidate["item"]
    situations = candidate.get("situations") or []
    situation = situation or candidate.get("situation")
    if situation is None and len(situations) > 1 and aspect == "materials":
        options: List[Option] = [{"value": s["id"], "label": s["name"]} for s in situations]
        payload: ChoicesPayload = {
            "kind": "choices", "choice_kind": "situation", "item": item, "aspect": aspect, "options": options,
        }
        dispatcher.utter_message(json_message=dict(payload))
        return [
            SlotSet("item", item),
            SlotSet("situation", None),
            SlotSet("aspect", aspect),
            SlotSet("pending", {"kind": "situation", "item": item, "options": options, "aspect": aspect}),
            SlotSet("failed_attempts", 0.0),
        ]
    answer: AnswerPayload = {"kind": "answer", "item": item, "situation": situation, "aspect": aspect}
    dispatcher.utter_message(json_message=dict(answer))
    return [
        SlotSet("item", item),
        SlotSet("situation", situation),
        SlotSet("aspect", aspect),
        SlotSet("pending", None),
        SlotSet("failed_attempts", 0.0),
    ]


def handoff_events(dispatcher: CollectingDispatcher, reason: str) -> List[EventType]:
    payload: HandoffPayload = {"kind": "handoff", "reason": reason}  # type: ignore[typeddict-item]
    dispatcher.utter_message(json_message=dict(payload))
    return [SlotSet("failed_attempts", 0.0), SlotSet("offered_human", False), SlotSet("pending", None)]


def failed_events(dispatcher: CollectingDispatcher, tracker: Tracker, key: str) -> List[EventType]:
    """Count a failure; the second one brings a person."""
    failed = float(tracker.get_slot("failed_attempts") or 0) + 1
    if failed >= MAX_FAILED:
        return handoff_events(dispatcher, "failed")
    payload: SimplePayload = {"kind": "decline" if key == "decline" else "rephrase", "key": key,
                              "offer_human": True}
    dispatcher.utter_message(json_message=dict(payload))
    return [SlotSet("failed_attempts", failed), SlotSet("offered_human", True)]


def declined_topic(retrieval: Dict[str, Any]) -> Optional[str]:
    """The out-of-scope topic (guides/out_of_scope.yaml) the question matched, if retrieval is
    confident of it. The NLU cannot tell 商标注册要什么材料 from a question about a guide — both
    are ask_service acts — so whether to decline is read from retrieval. Below UNSURE_FLOOR the
    "topic" is only the nearest entry to a question that names nothing (谢谢 → translation)."""
    topic = retrieval.get("declined_topic")
    if isinstance(topic, str) and topic and float(retrieval.get("confidence") or 0) >= UNSURE_FLOOR:
        return topic
    return None


def current_of(tracker: Tracker) -> Dict[str, Any]:
    """What web found the words say about the item talked about so far."""
    metadata = tracker.latest_message.get("metadata") or {}
    current = metadata.get("current") or {}
    return current if isinstance(current, dict) else {}


def said_situation(tracker: Tracker) -> Optional[str]:
    """The situation a follow-up's words give for the item talked about, if they may change it:
    while none is known, or when they use its own name ("如果是损坏的呢"). Words that only lean
    to another situation ("要不要自己出钱") leave the one already talked about."""
    current = current_of(tracker)
    situation = current.get("situation")
    if not situation or not tracker.get_slot("situation") or current.get("named"):
        return situation
    return None


def follow_up_events(
    dispatcher: CollectingDispatcher, tracker: Tracker, aspect: str, situation: Optional[str] = None
) -> List[EventType]:
    """Answer about the item talked about so far, directly (web renders the one fact asked)."""
    item = tracker.get_slot("item")
    situation = situation or tracker.get_slot("situation")
    answer: AnswerPayload = {
        "kind": "answer", "item": item, "situation": situation, "aspect": aspect, "follow_up": True,
    }
    dispatcher.utter_message(json_message=dict(answer))
    return [SlotSet("aspect", aspect), SlotSet("situation", situation), SlotSet("failed_attempts", 0.0)]


def names_another(retrieval: Dict[str, Any], current: Optional[str]) -> bool:
    """Does the question name another service, with confidence? Only then does the item switch:
    a follow-up whose stray word matches some other guide stays on the item."""
    candidates = candidates_of(retrieval)
    # While the item talked about is still among the top three, words shared with a sibling
    # (登记费, 交) do not move the conversation, unless the resident says it is another thing.
    still_near = current in [c["item"] for c in candidates[:3]] and not retrieval.get("switch_cue")
    return bool(
        candidates
        and retrieval.get("names_service", True)
        and not retrieval.get("abstain", True)
        and float(retrieval.get("confidence") or 0) >= SWITCH_CONFIDENCE
        and candidates[0]["item"] != current
        and not still_near
    )


def typed_situation(tracker: Tracker) -> Optional[str]:
    """A typed reply to "您是哪种情况？": the words of an option's label, or the situation in
    other words (web's retrieval found which situation of the pending item they name)."""
    pending = tracker.get_slot("pending") or {}
    if pending.get("kind") != "situation":
        return None
    options: List[Option] = pending.get("options") or []
    text = str(tracker.latest_message.get("text") or "")
    for o in options:
        if o["label"] and (o["label"] in text or text.strip() and text.strip() in o["label"]):
            return o["value"]
    current = current_of(tracker)
    if current.get("item") == pending.get("item") and current.get("situation") in [o["value"] for o in options]:
        return current["situation"]
    retrieval = retrieval_of(tracker)
    candidates = candidates_of(retrieval)
    # Words for another service, or 对了/另外, say it is a new question, not the reply.
    new_question = retrieval.get("switch_cue") or (
        retrieval.get("names_service", True) and (not candidates or candidates[0]["item"] != pending.get("item"))
    )
    if retrieval.get("aspect") not in DIRECT_ASPECTS and not new_question:
        return closest_option(options, text)
    return None


def _pairs(text: str) -> Set[str]:
    chars = [c for c in text if c.isalnum()]
    return {a + b for a, b in zip(chars, chars[1:])}


def closest_option(options: List[Option], text: str) -> Optional[str]:
    """A short reply sharing words with one option's label only ("在家里走的" → 在家里或养老院正常去世):
    that option. Words several labels share (去世) choose none; a long text is a new question."""
    if not text.strip() or len(text) > MAX_REPLY_CHARS:
        return None
    said = _pairs(text)
    scored = sorted(((len(said & _pairs(o["label"])), o["value"]) for o in options), reverse=True)
    shared = set.intersection(*(_pairs(o["label"]) for o in options)) if len(options) > 1 else set()
    if not scored or not scored[0][0] or said & shared == said:
        return None
    best = [v for n, v in scored if n == scored[0][0]]
    if len(best) > 1:
        return None
    distinct = said & _pairs(next(o["label"] for o in options if o["value"] == best[0])) - shared
    return best[0] if distinct else None


def answer_for_option(dispatcher: CollectingDispatcher, tracker: Tracker, situation: str) -> List[EventType]:
    """Answer for the situation chosen in reply to "您是哪种情况？" (tapped or typed)."""
    pending = tracker.get_slot("pending") or {}
    candidate: Candidate = {"item": pending["item"], "situations": []}
    # The aspect the options were asked back for (a follow-up meanwhile, 电话多少, does not change it).
    aspect = pending.get("aspect") or tracker.get_slot("aspect") or "materials"
    return answer_events(dispatcher, candidate, aspect, situation)


def typed_situation_events(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """Answer for the situation a typed reply to "您是哪种情况？" chooses, whichever act the NLU
    took it for ("证件损坏换证" can read as a fee question); None when it chooses none."""
    situation = typed_situation(tracker)
    if situation is None:
        return None
    aspect = retrieval_of(tracker).get("aspect")
    if aspect in DIRECT_ASPECTS:
        # "宝宝已经上户口了，要带户口本吗": the option and what is asked about it, not the aspect
        # asked a turn before.
        return [*follow_up_events(dispatcher, tracker, str(aspect), situation), SlotSet("pending", None)]
    return answer_for_option(dispatcher, tracker, situation)


def explicit_request(tracker: Tracker) -> bool:
    """The resident tapped a button (or sent a /command): an explicit act, not words to read."""
    metadata = tracker.latest_message.get("metadata") or {}
    return bool(metadata.get("choice") or tracker.latest_message.get("text", "").startswith("/"))


def respond_to_question(dispatcher: CollectingDispatcher, tracker: Tracker, unsure_key: str) -> List[EventType]:
    """The main act: answer, refer or decline what no guide covers, stay on the item for a
    follow-up, offer the top three, or count a failure."""
    retrieval = retrieval_of(tracker)
    candidates = candidates_of(retrieval)
    aspect = retrieval.get("aspect") or "materials"
    current = tracker.get_slot("item")
    topic = declined_topic(retrieval)
    if topic and topic.startswith(REFERRAL_KEYS):
        # A county service without a guide, or the resident's own records: web renders who
        # handles it (or where to look). That is an answer, not a failure towards a handover.
        refer: SimplePayload = {"kind": "decline", "key": "refer", "offer_human": True}
        dispatcher.utter_message(json_message=dict(refer))
        return [SlotSet("item", None), SlotSet("situation", None), SlotSet("pending", None),
                SlotSet("offered_human", True)]
    if topic:
        # web puts the topic's "where to go instead" in front of the decline.
        return failed_events(dispatcher, tracker, "decline")
    if current and not names_another(retrieval, current):
        typed = typed_situation_events(dispatcher, tracker)
        if typed is not None:
            return typed
        if aspect in DIRECT_ASPECTS:
            return follow_up_events(dispatcher, tracker, aspect, said_situation(tracker))
        if candidates and not retrieval.get("abstain", True) and candidates[0]["item"] == current:
            said = said_situation(tracker) or tracker.get_slot("situation")
            return answer_events(dispatcher, candidates[0], aspect, said)
        if retrieval.get("about_current"):
            # Its words name nothing the current item lacks ("他的身份证找不到了" while a death
            # is being registered): about the current item still, whatever a stray word matched.
            return follow_up_events(dispatcher, tracker, aspect, said_situation(tracker))
    if candidates and not retrieval.get("abstain", True):
        return answer_events(dispatcher, candidates[0], aspect)
    if candidates and float(retrieval.get("confidence") or 0) >= UNSURE_FLOOR and unsure_key == "rephrase":
        options: List[Option] = [{"value": c["item"], "label": c.get("title") or c["item"]} for c in candidates[:3]]
        payload: ChoicesPayload = {
            "kind": "choices", "choice_kind": "item", "item": None, "aspect": aspect, "options": options,
        }
        dispatcher.utter_message(json_message=dict(payload))
        return [SlotSet("pending", {"kind": "item", "options": options, "candidates": candidates[:3]})]
    return failed_events(dispatcher, tracker, unsure_key)


class ActionAnswerService(Action):
    def name(self) -> Text:
        return "action_answer_service"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        return respond_to_question(dispatcher, tracker, "rephrase")


class ActionDecline(Action):
    """Out of scope — unless retrieval is sure the question is about a service after all."""

    def name(self) -> Text:
        return "action_decline"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        return respond_to_question(dispatcher, tracker, "decline")


class ActionFollowUp(Action):
    """A question about one aspect (fee, time, where, hours, online …) of the current item."""

    def name(self) -> Text:
        return "action_follow_up"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name", "")
        retrieval = retrieval_of(tracker)
        said = retrieval.get("aspect")
        # The words say more than the act: "要本人去吗" is proxy, "能寄吗" mail, which no intent has.
        aspect = said if said in DIRECT_ASPECTS else ASPECT_OF_INTENT.get(intent, "materials")
        candidates = candidates_of(retrieval)
        current = tracker.get_slot("item")
        if names_another(retrieval, current):
            return answer_events(dispatcher, candidates[0], aspect)
        if current:
            chosen = typed_situation(tracker)
            if chosen and said not in DIRECT_ASPECTS:
                # No aspect in the words: a typed reply to the question back, whatever act the NLU read.
                return answer_for_option(dispatcher, tracker, chosen)
            # "证件损坏的要多少钱": the option and the aspect asked about it.
            events = follow_up_events(dispatcher, tracker, aspect, chosen or said_situation(tracker))
            return [*events, SlotSet("pending", None)] if chosen else events
        if candidates and not retrieval.get("abstain", True):
            return answer_events(dispatcher, candidates[0], aspect)
        return failed_events(dispatcher, tracker, "which_service")


class ActionChoose(Action):
    """The resident picked an option (a button, or typed 第二个)."""

    def name(self) -> Text:
        return "action_choose"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        pending = tracker.get_slot("pending") or {}
        options: List[Option] = pending.get("options") or []
        metadata = tracker.latest_message.get("metadata") or {}
        choice = metadata.get("choice") or {}
        value: Optional[str] = choice.get("value") if isinstance(choice, dict) else None
        if value is None:
            picked = tracker.get_slot("option") or next(tracker.get_latest_entity_values("option"), None)
            value = _pick(options, picked)
        if not pending or value is None or value not in [o["value"] for o in options]:
            return respond_to_question(dispatcher, tracker, "rephrase")
        aspect = tracker.get_slot("aspect") or "materials"
        if pending.get("kind") == "situation":
            return [*answer_for_option(dispatcher, tracker, value), SlotSet("option", None)]
        chosen = next((c for c in pending.get("candidates") or [] if c.get("item") == value), {"item": value})
        return [*answer_events(dispatcher, dict(chosen), aspect), SlotSet("option", None)]  # type: ignore[arg-type]


def _pick(options: List[Option], picked: Optional[str]) -> Optional[str]:
    if not options or picked is None:
        return None
    if picked == "last":
        return options[-1]["value"]
    if picked.isdigit() and 1 <= int(picked) <= len(options):
        return options[int(picked) - 1]["value"]
    for o in options:
        if picked in o["label"] or picked == o["value"]:
            return o["value"]
    return None


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name", "")
        retrieval = retrieval_of(tracker)
        aspect = retrieval.get("aspect")
        if not explicit_request(tracker) and not retrieval.get("asks_person", True):
            typed = typed_situation_events(dispatcher, tracker)  # "证件损坏换证" read as a complaint
            if typed is not None:
                return typed
        opening = not tracker.get_slot("item")  # nothing talked about yet: not a complaint about an answer
        if intent == "complain" and opening and not explicit_request(tracker) and not retrieval.get("asks_person", True):
            if names_a_service(retrieval) or declined_topic(retrieval):
                # "老板拖了我三个月的工钱一直不给" as the first message: a grievance against someone
                # else, which a service (legal aid, labour inspection) handles — answered, not handed
                # over. A complaint about us (投诉, 找人工 …) asks for a person: web's asks_person.
                return respond_to_question(dispatcher, tracker, "rephrase")
        if question_not_request(tracker, retrieval):
            # "能不能让家里人替我去" is a question about the item, not a request for a person:
            # without words asking for one (web's asks_person), answer it directly.
            # "公章要我们自己去外面刻吗" has no aspect word: a question about the item all the same
            # (web answers it from the guide's common questions, or shows the checklist).
            said = str(aspect) if aspect in DIRECT_ASPECTS else "materials"
            return follow_up_events(dispatcher, tracker, said, said_situation(tracker))
        return handoff_events(dispatcher, "complaint" if intent == "complain" else "asked")


def question_not_request(tracker: Tracker, retrieval: Dict[str, Any]) -> bool:
    """A follow-up the NLU took for a request for a person (or a complaint): it asks about an
    aspect of the item talked about, and has none of the words that ask for a person."""
    if explicit_request(tracker):
        return False  # the button: an explicit request
    item = tracker.get_slot("item")
    about_item = retrieval.get("aspect") in DIRECT_ASPECTS or question_on_item(tracker, retrieval)
    return bool(
        item
        and current_of(tracker).get("item") == item
        and about_item
        and not retrieval.get("asks_person", True)
    )


def question_on_item(tracker: Tracker, retrieval: Dict[str, Any]) -> bool:
    """A question (not a statement) about the item talked about: an aspect of it, or words that
    stay on it (web's about_current, or the item among the best three matches)."""
    item = tracker.get_slot("item")
    if not item or not retrieval.get("asks_question", False) or retrieval.get("asks_person", True):
        return False
    return bool(
        retrieval.get("aspect") in DIRECT_ASPECTS
        or retrieval.get("about_current")
        or item in [c["item"] for c in candidates_of(retrieval)[:3]]
    )


class ActionConfirm(Action):
    """Yes/no: yes to an offered person hands over; otherwise nothing is pending."""

    def name(self) -> Text:
        return "action_confirm"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name", "")
        if tracker.get_slot("offered_human"):
            if intent == "affirm":
                return handoff_events(dispatcher, "asked")
            payload: SimplePayload = {"kind": "text", "key": "ok_no_human", "offer_human": False}
            dispatcher.utter_message(json_message=dict(payload))
            return [SlotSet("offered_human", False)]
        if question_on_item(tracker, retrieval_of(tracker)):
            # "她要自己去办吗" read as a yes/no: it is a question about the item talked about.
            return respond_to_question(dispatcher, tracker, "rephrase")
        payload = {"kind": "text", "key": "anything_else", "offer_human": False}
        dispatcher.utter_message(json_message=dict(payload))
        return []


class ActionSmallTalk(Action):
    """Greeting, thanks, goodbye — unless the words are a question after all: "几耐先攞到" while
    the bot asks which situation (the NLU reads the Cantonese as a goodbye), "谢谢，那要多少钱",
    or a typed reply that chooses one of the options asked back."""

    response = "utter_greet"

    def name(self) -> Text:
        return "action_" + self.response.removeprefix("utter_")

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        retrieval = retrieval_of(tracker)
        if not explicit_request(tracker) and not retrieval.get("asks_person", True):
            typed = typed_situation_events(dispatcher, tracker)
            if typed is not None:
                return typed
            if question_on_item(tracker, retrieval) or (retrieval.get("asks_question") and names_a_service(retrieval)):
                return respond_to_question(dispatcher, tracker, "rephrase")
        dispatcher.utter_message(response=self.response)
        return []


class ActionThank(ActionSmallTalk):
    response = "utter_thank"


class ActionGoodbye(ActionSmallTalk):
    response = "utter_goodbye"


class ActionStartOver(Action):
    """"重新开始": start over — unless it is a question about the item ("重新换一张要多久")."""

    def name(self) -> Text:
        return "action_start_over"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        if question_on_item(tracker, retrieval_of(tracker)):
            return respond_to_question(dispatcher, tracker, "rephrase")
        dispatcher.utter_message(response="utter_restart")
        return [Restarted()]
