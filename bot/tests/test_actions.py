"""Action unit tests (rasa-sdk style): build a Tracker and a CollectingDispatcher,
run the action, compare the whole event list and the payloads. Run with .venv-bot."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import (
    ActionAnswerService,
    ActionChoose,
    ActionConfirm,
    ActionDecline,
    ActionFollowUp,
    ActionHandoff,
    ActionGoodbye,
    ActionSmallTalk,
    ActionStartOver,
    ActionThank,
    closest_option,
)

ID_RENEW = {
    "item": "id-card-renew", "title": "换身份证", "score": 0.9, "situation": None,
    "situations": [{"id": "expired", "name": "到期换证"}, {"id": "damaged", "name": "证件损坏换证"}],
}
DIBAO = {"item": "dibao", "title": "低保", "score": 0.5, "situation": "a", "situations": [{"id": "a", "name": "A"}]}
ELDERLY = {"item": "elderly-allowance", "title": "高龄津贴", "score": 0.4, "situation": None, "situations": []}


def tracker(intent: str, retrieval: Optional[Dict[str, Any]] = None, slots: Optional[Dict[str, Any]] = None,
            entities: Optional[List[Dict[str, Any]]] = None, choice: Optional[Dict[str, str]] = None) -> Tracker:
    metadata: Dict[str, Any] = {"plate": "NA010001"}
    if retrieval is not None:
        metadata["retrieval"] = retrieval
    if choice is not None:
        metadata["choice"] = choice
    base = {"item": None, "situation": None, "aspect": None, "pending": None, "failed_attempts": 0.0,
            "offered_human": False, "option": None}
    base.update(slots or {})
    return Tracker("resident-1", base, {"intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
                                        "text": "x", "metadata": metadata}, [], False, None, {}, "action_listen")


def run(action: Any, t: Tracker) -> tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    d = CollectingDispatcher()
    events = action.run(d, t, {})
    return events, [m["custom"] for m in d.messages]


def sure(*cands: Dict[str, Any], aspect: Optional[str] = None, conf: float = 0.9) -> Dict[str, Any]:
    return {"abstain": False, "confidence": conf, "aspect": aspect, "candidates": list(cands)}


def unsure(*cands: Dict[str, Any], conf: float = 0.2) -> Dict[str, Any]:
    return {"abstain": True, "confidence": conf, "aspect": None, "candidates": list(cands)}


def test_answer_service_asks_back_for_the_situation() -> None:
    events, msgs = run(ActionAnswerService(), tracker("ask_service", sure(ID_RENEW, DIBAO)))
    options = [{"value": "expired", "label": "到期换证"}, {"value": "damaged", "label": "证件损坏换证"}]
    assert msgs == [{"kind": "choices", "choice_kind": "situation", "item": "id-card-renew",
                     "aspect": "materials", "options": options}]
    assert events == [
        SlotSet("item", "id-card-renew"), SlotSet("situation", None), SlotSet("aspect", "materials"),
        SlotSet("pending", {"kind": "situation", "item": "id-card-renew", "options": options,
                            "aspect": "materials"}),
        SlotSet("failed_attempts", 0.0),
    ]


def test_answer_service_answers_when_situation_is_known() -> None:
    events, msgs = run(ActionAnswerService(), tracker("ask_service", sure(dict(ID_RENEW, situation="damaged"))))
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "materials"}]
    assert events == [SlotSet("item", "id-card-renew"), SlotSet("situation", "damaged"),
                      SlotSet("aspect", "materials"), SlotSet("pending", None), SlotSet("failed_attempts", 0.0)]


def test_answer_service_fee_question_does_not_ask_for_situation() -> None:
    _, msgs = run(ActionAnswerService(), tracker("ask_service", sure(ID_RENEW, aspect="fee")))
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": None, "aspect": "fee"}]


def test_answer_service_unsure_offers_top_three() -> None:
    events, msgs = run(ActionAnswerService(), tracker("ask_service", unsure(ID_RENEW, DIBAO, ELDERLY)))
    options = [{"value": "id-card-renew", "label": "换身份证"}, {"value": "dibao", "label": "低保"},
               {"value": "elderly-allowance", "label": "高龄津贴"}]
    assert msgs == [{"kind": "choices", "choice_kind": "item", "item": None, "aspect": "materials",
                     "options": options}]
    assert events == [SlotSet("pending", {"kind": "item", "options": options,
                                          "candidates": [ID_RENEW, DIBAO, ELDERLY]})]


def test_answer_service_nothing_fits_counts_a_failure_then_hands_over() -> None:
    events, msgs = run(ActionAnswerService(), tracker("ask_service", unsure(conf=0.01)))
    assert msgs == [{"kind": "rephrase", "key": "rephrase", "offer_human": True}]
    assert events == [SlotSet("failed_attempts", 1.0), SlotSet("offered_human", True)]
    events, msgs = run(ActionAnswerService(), tracker("ask_service", unsure(conf=0.01),
                                                      slots={"failed_attempts": 1.0}))
    assert msgs == [{"kind": "handoff", "reason": "failed"}]
    assert events == [SlotSet("failed_attempts", 0.0), SlotSet("offered_human", False), SlotSet("pending", None)]


def test_answer_service_declines_a_known_out_of_scope_topic() -> None:
    # 商标注册要什么材料: an ask_service act, but retrieval matched the trademark topic.
    retrieval = dict(unsure(ID_RENEW, DIBAO, ELDERLY, conf=0.93), declined_topic="trademark")
    events, msgs = run(ActionAnswerService(), tracker("ask_service", retrieval))
    assert msgs == [{"kind": "decline", "key": "decline", "offer_human": True}]
    assert events == [SlotSet("failed_attempts", 1.0), SlotSet("offered_human", True)]


@pytest.mark.parametrize("topic", ["ref:vehicle-mortgage-registration", "look:hpf-balance"])
def test_answer_service_refers_without_counting_a_failure(topic: str) -> None:
    # A county service without a guide (or the resident's own records) is referred honestly:
    # the referral is an answer, so a second one never hands the chat over as "failed".
    retrieval = dict(unsure(ID_RENEW, conf=0.8), declined_topic=topic)
    events, msgs = run(ActionAnswerService(), tracker("ask_service", retrieval, slots={"failed_attempts": 1.0}))
    assert msgs == [{"kind": "decline", "key": "refer", "offer_human": True}]
    assert events == [SlotSet("item", None), SlotSet("situation", None), SlotSet("pending", None),
                      SlotSet("offered_human", True)]


def test_answer_service_ignores_a_topic_retrieval_is_not_sure_of() -> None:
    # A question naming nothing still has a nearest topic; at this confidence it means nothing.
    retrieval = dict(unsure(conf=0.001), declined_topic="translation")
    _, msgs = run(ActionAnswerService(), tracker("ask_service", retrieval))
    assert msgs == [{"kind": "rephrase", "key": "rephrase", "offer_human": True}]


def test_follow_up_fee_about_the_current_item() -> None:
    t = tracker("ask_fee", unsure(conf=0.05), slots={"item": "id-card-renew", "situation": "expired"})
    events, msgs = run(ActionFollowUp(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "expired", "aspect": "fee",
                     "follow_up": True}]
    assert events == [SlotSet("aspect", "fee"), SlotSet("situation", "expired"), SlotSet("failed_attempts", 0.0)]


def test_follow_up_with_a_stray_word_stays_on_the_item() -> None:
    # "那要交多少钱": retrieval's best guess is another guide (because of 交), but the words name
    # no service: the follow-up stays on the item talked about.
    stray = dict(sure(DIBAO, conf=0.97, aspect="fee"), names_service=False)
    t = tracker("ask_fee", stray, slots={"item": "id-card-renew", "situation": "expired"})
    _, msgs = run(ActionFollowUp(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "expired", "aspect": "fee",
                     "follow_up": True}]


def test_follow_up_proxy_aspect_comes_from_the_words() -> None:
    # No intent for "要本人去吗": web's words say proxy, the act is still about the current item.
    t = tracker("ask_service", dict(unsure(conf=0.1), aspect="proxy", names_service=False),
                slots={"item": "hukou-cancel-death"})
    events, msgs = run(ActionAnswerService(), t)
    assert msgs == [{"kind": "answer", "item": "hukou-cancel-death", "situation": None, "aspect": "proxy",
                     "follow_up": True}]
    assert SlotSet("aspect", "proxy") in events


def test_a_question_whose_words_name_nothing_beyond_the_current_item_stays_on_it() -> None:
    # "他的身份证一下子找不到了" while a death is being registered: retrieval's top is another
    # guide, but web found no word for it that the current item lacks (about_current).
    about = dict(unsure(DIBAO, conf=0.56), names_service=False, about_current=True)
    t = tracker("ask_service", about, slots={"item": "hukou-cancel-death"})
    events, msgs = run(ActionAnswerService(), t)
    assert msgs == [{"kind": "answer", "item": "hukou-cancel-death", "situation": None, "aspect": "materials",
                     "follow_up": True}]
    # Without about_current, a question that names nothing is not taken as one about the item.
    nothing = dict(unsure(DIBAO, conf=0.56), names_service=False)
    _, msgs = run(ActionAnswerService(), tracker("ask_service", nothing, slots={"item": "hukou-cancel-death"}))
    assert msgs[0]["kind"] != "answer"


def test_a_sibling_sharing_a_word_does_not_take_over_unless_the_resident_moves_on() -> None:
    # "登记费多少" about a property transfer: a sibling ranks first, the current item is still
    # among the top three — stay. "那补办呢" says it is another thing — switch.
    near = dict(sure(DIBAO, ID_RENEW, conf=0.9, aspect="fee"), names_service=True)
    _, msgs = run(ActionFollowUp(), tracker("ask_fee", near, slots={"item": "id-card-renew"}))
    assert msgs[0]["item"] == "id-card-renew" and msgs[0]["follow_up"] is True
    moved = dict(near, switch_cue=True)
    _, msgs = run(ActionFollowUp(), tracker("ask_fee", moved, slots={"item": "id-card-renew"}))
    assert msgs[0]["item"] == "dibao"


def test_question_naming_another_service_switches_and_later_follow_ups_follow() -> None:
    t = tracker("ask_service", dict(sure(DIBAO, conf=0.9), names_service=True), slots={"item": "id-card-renew"})
    events, msgs = run(ActionAnswerService(), t)
    assert msgs[0]["item"] == "dibao" and SlotSet("item", "dibao") in events


def test_typed_situation_reply_chooses_the_option() -> None:
    pending = {"kind": "situation", "item": "id-card-renew",
               "options": [{"value": "expired", "label": "到期换证"}, {"value": "damaged", "label": "证件损坏换证"}]}
    t = tracker("ask_service", dict(unsure(conf=0.2), names_service=True),
                slots={"item": "id-card-renew", "pending": pending, "aspect": "materials"})
    t.latest_message["metadata"]["current"] = {"item": "id-card-renew", "situation": "damaged"}
    _, msgs = run(ActionAnswerService(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "materials"}]


def test_typed_words_of_an_option_label_choose_it() -> None:
    pending = {"kind": "situation", "item": "id-card-renew",
               "options": [{"value": "expired", "label": "到期换证"}, {"value": "damaged", "label": "证件损坏换证"}]}
    t = tracker("inform", unsure(conf=0.2), slots={"item": "id-card-renew", "pending": pending})
    t.latest_message["text"] = "证件损坏换证"
    _, msgs = run(ActionAnswerService(), t)
    assert msgs[0]["situation"] == "damaged"


def test_typed_situation_reply_read_as_a_follow_up_still_chooses_the_option() -> None:
    """The NLU may take "证件损坏换证" for a fee question; its words name no aspect, only the option."""
    pending = {"kind": "situation", "item": "id-card-renew",
               "options": [{"value": "expired", "label": "到期换证"}, {"value": "damaged", "label": "证件损坏换证"}]}
    t = tracker("ask_fee", sure(ID_RENEW), slots={"item": "id-card-renew", "pending": pending, "aspect": "materials"})
    t.latest_message["text"] = "证件损坏换证"
    events, msgs = run(ActionFollowUp(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "materials"}]
    assert SlotSet("pending", None) in events


def test_typed_option_with_an_aspect_answers_that_aspect_for_the_option() -> None:
    pending = {"kind": "situation", "item": "id-card-renew",
               "options": [{"value": "expired", "label": "到期换证"}, {"value": "damaged", "label": "证件损坏换证"}]}
    t = tracker("ask_fee", sure(ID_RENEW, aspect="fee"), slots={"item": "id-card-renew", "pending": pending})
    t.latest_message["text"] = "证件损坏换证要多少钱"
    events, msgs = run(ActionFollowUp(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "fee",
                     "follow_up": True}]
    assert SlotSet("pending", None) in events


def test_typed_situation_reply_read_as_a_complaint_chooses_the_option() -> None:
    pending = {"kind": "situation", "item": "id-card-renew",
               "options": [{"value": "expired", "label": "到期换证"}, {"value": "damaged", "label": "证件损坏换证"}]}
    t = tracker("complain", dict(sure(ID_RENEW), asks_person=False),
                slots={"item": "id-card-renew", "pending": pending, "aspect": "materials"})
    t.latest_message["text"] = "证件损坏换证"
    _, msgs = run(ActionHandoff(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "materials"}]


def test_follow_up_naming_another_item_switches() -> None:
    t = tracker("ask_fee", sure(DIBAO, conf=0.95), slots={"item": "id-card-renew"})
    events, msgs = run(ActionFollowUp(), t)
    assert msgs == [{"kind": "answer", "item": "dibao", "situation": "a", "aspect": "fee"}]
    assert events[0] == SlotSet("item", "dibao")


def test_follow_up_without_an_item_asks_which_service() -> None:
    events, msgs = run(ActionFollowUp(), tracker("ask_where", unsure(conf=0.05)))
    assert msgs == [{"kind": "rephrase", "key": "which_service", "offer_human": True}]
    assert events == [SlotSet("failed_attempts", 1.0), SlotSet("offered_human", True)]


def test_choose_option_by_typed_ordinal() -> None:
    pending = {"kind": "situation", "item": "id-card-renew",
               "options": [{"value": "expired", "label": "到期换证"}, {"value": "damaged", "label": "证件损坏换证"}]}
    t = tracker("choose_option", slots={"pending": pending, "aspect": "materials", "option": "2"})
    events, msgs = run(ActionChoose(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "materials"}]
    assert events == [SlotSet("item", "id-card-renew"), SlotSet("situation", "damaged"),
                      SlotSet("aspect", "materials"), SlotSet("pending", None), SlotSet("failed_attempts", 0.0),
                      SlotSet("option", None)]


def test_choose_item_by_button_then_asks_situation() -> None:
    pending = {"kind": "item", "options": [{"value": "id-card-renew", "label": "换身份证"}],
               "candidates": [ID_RENEW]}
    t = tracker("choose_option", slots={"pending": pending}, choice={"kind": "item", "value": "id-card-renew"})
    _, msgs = run(ActionChoose(), t)
    assert msgs[0]["kind"] == "choices" and msgs[0]["choice_kind"] == "situation"


def test_choose_without_pending_falls_back_to_retrieval() -> None:
    _, msgs = run(ActionChoose(), tracker("choose_option", sure(DIBAO), slots={"option": "1"}))
    assert msgs == [{"kind": "answer", "item": "dibao", "situation": "a", "aspect": "materials"}]


@pytest.mark.parametrize(("intent", "reason"), [("request_human", "asked"), ("complain", "complaint")])
def test_handoff_reason(intent: str, reason: str) -> None:
    events, msgs = run(ActionHandoff(), tracker(intent))
    assert msgs == [{"kind": "handoff", "reason": reason}]
    assert events == [SlotSet("failed_attempts", 0.0), SlotSet("offered_human", False), SlotSet("pending", None)]


def test_decline_out_of_scope_offers_a_person() -> None:
    events, msgs = run(ActionDecline(), tracker("out_of_scope", unsure(conf=0.01)))
    assert msgs == [{"kind": "decline", "key": "decline", "offer_human": True}]
    assert events == [SlotSet("failed_attempts", 1.0), SlotSet("offered_human", True)]


def test_decline_out_of_scope_topic_second_time_hands_over() -> None:
    retrieval = dict(unsure(conf=0.99), declined_topic="weather")
    _, msgs = run(ActionDecline(), tracker("out_of_scope", retrieval, slots={"failed_attempts": 1.0}))
    assert msgs == [{"kind": "handoff", "reason": "failed"}]


def test_decline_defers_to_a_confident_retrieval() -> None:
    _, msgs = run(ActionDecline(), tracker("out_of_scope", sure(DIBAO)))
    assert msgs[0]["kind"] == "answer" and msgs[0]["item"] == "dibao"


def test_confirm_yes_after_offer_hands_over() -> None:
    events, msgs = run(ActionConfirm(), tracker("affirm", slots={"offered_human": True}))
    assert msgs == [{"kind": "handoff", "reason": "asked"}]


def test_confirm_no_after_offer() -> None:
    events, msgs = run(ActionConfirm(), tracker("deny", slots={"offered_human": True}))
    assert msgs == [{"kind": "text", "key": "ok_no_human", "offer_human": False}]
    assert events == [SlotSet("offered_human", False)]


def with_current(t: Tracker, item: str) -> Tracker:
    t.latest_message["metadata"]["current"] = {"item": item, "situation": None}
    return t


@pytest.mark.parametrize("intent", ["request_human", "complain"])
def test_a_question_about_who_may_go_is_answered_not_handed_over(intent: str) -> None:
    # "我妈年纪大了能不能让我替她去": the NLU may read 让我 as a complaint or 代办 as a request for a
    # person; web's words say proxy and ask for no person, so it is a follow-up about the item.
    retrieval = dict(unsure(conf=0.1), aspect="proxy", asks_person=False)
    t = with_current(tracker(intent, retrieval, slots={"item": "id-card-renew", "situation": "damaged"}), "id-card-renew")
    events, msgs = run(ActionHandoff(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "proxy",
                     "follow_up": True}]


@pytest.mark.parametrize("intent", ["request_human", "complain"])
def test_a_question_on_the_item_the_nlu_took_for_a_complaint_is_answered(intent: str) -> None:
    # "公章要我们自己去外面刻吗" while setting up a company: no aspect word, no word asking for a
    # person, a question whose best match is the item itself.
    company = {"item": "company-setup", "title": "开公司", "score": 0.9, "situation": None, "situations": []}
    retrieval = dict(sure(company, conf=0.4), asks_person=False, asks_question=True)
    t = with_current(tracker(intent, retrieval, slots={"item": "company-setup"}), "company-setup")
    _, msgs = run(ActionHandoff(), t)
    assert msgs[0]["kind"] == "answer" and msgs[0]["item"] == "company-setup"
    # The same words as a statement (a complaint) still bring a person.
    statement = dict(retrieval, asks_question=False)
    t = with_current(tracker(intent, statement, slots={"item": "company-setup"}), "company-setup")
    _, msgs = run(ActionHandoff(), t)
    assert msgs[0]["kind"] == "handoff"


@pytest.mark.parametrize(
    "retrieval",
    [
        dict(unsure(conf=0.1), aspect="proxy", asks_person=True),  # "家属能代办吗，我要找人工"
        dict(unsure(conf=0.1), aspect=None, asks_person=False),  # a complaint with no question in it
        dict(unsure(conf=0.1), aspect="proxy"),  # an older web that does not say: hand over, as before
    ],
)
def test_requests_for_a_person_still_hand_over(retrieval: Dict[str, Any]) -> None:
    t = with_current(tracker("request_human", retrieval, slots={"item": "id-card-renew"}), "id-card-renew")
    _, msgs = run(ActionHandoff(), t)
    assert msgs == [{"kind": "handoff", "reason": "asked"}]


def test_without_an_item_talked_about_a_proxy_question_goes_to_a_person() -> None:
    t = tracker("request_human", dict(unsure(conf=0.1), aspect="proxy", asks_person=False))
    _, msgs = run(ActionHandoff(), t)
    assert msgs == [{"kind": "handoff", "reason": "asked"}]


def test_start_over_restarts_but_a_question_about_the_item_is_answered() -> None:
    from rasa_sdk.events import Restarted

    d = CollectingDispatcher()
    events = ActionStartOver().run(d, tracker("start_over", dict(unsure(conf=0.1), asks_question=False)), {})
    assert events == [Restarted()] and [m["response"] for m in d.messages] == ["utter_restart"]
    # "重新换一张要多久" about a birth certificate: the NLU's restart is a question on the item.
    t = tracker("start_over", dict(unsure(conf=0.1), aspect="time", asks_question=True, asks_person=False),
                slots={"item": "birth-medical-cert", "situation": "replace-wrong"})
    _, msgs = run(ActionStartOver(), with_current(t, "birth-medical-cert"))
    assert msgs == [{"kind": "answer", "item": "birth-medical-cert", "situation": "replace-wrong", "aspect": "time",
                     "follow_up": True}]


def test_a_question_read_as_yes_or_no_is_answered_about_the_item() -> None:
    # "她要自己去办吗" after the pension claim was asked back: not a yes to anything.
    t = tracker("affirm", dict(unsure(conf=0.1), aspect="proxy", asks_question=True, asks_person=False),
                slots={"item": "pension-claim"})
    _, msgs = run(ActionConfirm(), with_current(t, "pension-claim"))
    assert msgs[0]["kind"] == "answer" and msgs[0]["item"] == "pension-claim" and msgs[0]["aspect"] == "proxy"
    _, msgs = run(ActionConfirm(), tracker("affirm", dict(unsure(conf=0.1), asks_question=False)))
    assert msgs == [{"kind": "text", "key": "anything_else", "offer_human": False}]


@pytest.mark.parametrize("aspect", ["phone", "document", "amount"])
def test_phone_and_one_document_are_follow_ups_even_when_read_as_yes_or_no(aspect: str) -> None:
    # "电话多少" / "复印件要几份" after a checklist: a question about the item, answered directly;
    # the NLU may read the short words as affirm.
    retrieval = dict(unsure(conf=0.1), aspect=aspect, asks_question=True, asks_person=False, names_service=False)
    t = tracker("affirm", retrieval, slots={"item": "id-card-renew", "situation": "expired"})
    _, msgs = run(ActionConfirm(), with_current(t, "id-card-renew"))
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "expired", "aspect": aspect,
                     "follow_up": True}]
    _, msgs = run(ActionAnswerService(), tracker("ask_service", retrieval, slots={"item": "passport"}))
    assert msgs == [{"kind": "answer", "item": "passport", "situation": None, "aspect": aspect, "follow_up": True}]


def test_typed_option_after_a_follow_up_answers_what_was_asked_back_and_what_the_words_ask() -> None:
    # Asked back for the situation, the resident asked "电话多少" meanwhile (slot aspect phone).
    pending = {"kind": "situation", "item": "id-card-renew", "aspect": "materials",
               "options": [{"value": "expired", "label": "到期换证"}, {"value": "damaged", "label": "证件损坏换证"}]}
    slots = {"item": "id-card-renew", "pending": pending, "aspect": "phone"}
    t = tracker("inform", unsure(conf=0.2), slots=slots)
    t.latest_message["text"] = "证件损坏换证"
    _, msgs = run(ActionAnswerService(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "materials"}]
    # The option with a question about one thing on the list: that question, for the option.
    t = tracker("ask_service", dict(unsure(conf=0.2), aspect="document"), slots=slots)
    t.latest_message["text"] = "证件损坏换证，要带户口本吗"
    events, msgs = run(ActionAnswerService(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "document",
                     "follow_up": True}]
    assert SlotSet("pending", None) in events


def test_a_short_reply_sharing_words_with_one_option_only_chooses_it() -> None:
    options = [{"value": "hospital", "label": "在医院去世"}, {"value": "home", "label": "在家里或养老院正常去世"},
               {"value": "accident", "label": "意外、非正常去世"}]
    assert closest_option(options, "在家里走的") == "home"
    assert closest_option(options, "医院") == "hospital"
    assert closest_option(options, "出车祸，意外走的") == "accident"
    # Words every label has, or none, choose nothing; neither does a long new question.
    assert closest_option(options, "去世了") is None
    assert closest_option(options, "要多少钱") is None
    assert closest_option(options, "我想问一下在家里去世的话死亡证明要去哪里开，社区能开吗") is None
    pending = {"kind": "situation", "item": "death-bundle", "aspect": "materials", "options": options}
    t = tracker("inform", dict(unsure(conf=0.1), names_service=False), slots={"item": "death-bundle", "pending": pending})
    t.latest_message["text"] = "在家里走的"
    _, msgs = run(ActionAnswerService(), t)
    assert msgs == [{"kind": "answer", "item": "death-bundle", "situation": "home", "aspect": "materials"}]
    # "对了，孩子医保怎么交" while asked back: a new question, whatever label shares 孩子 with it.
    kids = [{"value": "married", "label": "爸妈是结了婚的"}, {"value": "unmarried", "label": "没结婚生的孩子（非婚生）"}]
    pending = {"kind": "situation", "item": "hukou-newborn", "aspect": "materials", "options": kids}
    insurance = {"item": "newborn-medical-insurance", "title": "新生儿医保", "score": 0.5, "situations": []}
    t = tracker("ask_service", dict(sure(insurance, conf=0.4), names_service=True, switch_cue=True),
                slots={"item": "hukou-newborn", "pending": pending})
    t.latest_message["text"] = "对了，孩子医保怎么交"
    _, msgs = run(ActionAnswerService(), t)
    assert msgs[0]["item"] == "newborn-medical-insurance", msgs


def test_small_talk_is_small_talk_unless_the_words_ask_about_the_item() -> None:
    # "再见" / "谢谢" / "你好" with no question in them: the response, nothing else.
    for action, response in [(ActionSmallTalk(), "utter_greet"), (ActionThank(), "utter_thank"),
                             (ActionGoodbye(), "utter_goodbye")]:
        d = CollectingDispatcher()
        t = tracker(response.removeprefix("utter_"), dict(unsure(conf=0.1), asks_question=False, asks_person=False),
                    slots={"item": "id-card-renew"})
        assert action.run(d, t, {}) == [] and [m["response"] for m in d.messages] == [response]
    # "几耐先攞到" while the bot asks which situation: the NLU reads it as goodbye; it asks how long.
    pending = {"kind": "situation", "item": "id-card-renew", "aspect": "materials",
               "options": [{"value": "expired", "label": "到期换证"}, {"value": "damaged", "label": "证件损坏换证"}]}
    retrieval = dict(unsure(conf=0.1), aspect="time", asks_question=True, asks_person=False, names_service=False)
    t = tracker("goodbye", retrieval, slots={"item": "id-card-renew", "pending": pending})
    t.latest_message["text"] = "几耐先攞到"
    _, msgs = run(ActionGoodbye(), with_current(t, "id-card-renew"))
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": None, "aspect": "time",
                     "follow_up": True}]
    # A typed option read as thanks chooses it.
    t = tracker("thank", dict(unsure(conf=0.1), asks_question=False, asks_person=False),
                slots={"item": "id-card-renew", "pending": pending})
    t.latest_message["text"] = "证件损坏换证"
    _, msgs = run(ActionThank(), t)
    assert msgs == [{"kind": "answer", "item": "id-card-renew", "situation": "damaged", "aspect": "materials"}]
    # "你好，身份证到期了怎么换" read as a greeting, nothing talked about yet: the question is answered.
    t = tracker("greet", dict(sure(ID_RENEW), asks_question=True, asks_person=False))
    _, msgs = run(ActionSmallTalk(), t)
    assert msgs[0]["kind"] == "choices" and msgs[0]["item"] == "id-card-renew"


def test_a_follow_up_that_only_leans_to_another_situation_keeps_the_one_talked_about() -> None:
    # "要不要自己出钱" after a first disability card: web's words lean to 到期换证 but do not name it.
    retrieval = dict(unsure(conf=0.1), aspect="fee", asks_question=True, asks_person=False, names_service=False)
    t = tracker("ask_fee", retrieval, slots={"item": "disability-card", "situation": "first-apply"})
    t.latest_message["metadata"]["current"] = {"item": "disability-card", "situation": "renew", "named": False}
    _, msgs = run(ActionFollowUp(), t)
    assert msgs == [{"kind": "answer", "item": "disability-card", "situation": "first-apply", "aspect": "fee",
                     "follow_up": True}]
    # "如果是到期换证呢，多少钱": the words use the situation's own name — it changes.
    t.latest_message["metadata"]["current"] = {"item": "disability-card", "situation": "renew", "named": True}
    _, msgs = run(ActionFollowUp(), t)
    assert msgs[0]["situation"] == "renew"


def test_a_grievance_a_service_handles_is_answered_a_complaint_about_us_is_handed_over() -> None:
    legal = {"item": "legal-aid", "title": "法律援助", "score": 0.9, "situation": None,
             "situations": [{"id": "migrant-worker", "name": "农民工讨薪"}, {"id": "other", "name": "其他"}]}
    t = tracker("complain", dict(sure(legal), asks_question=False, asks_person=False))
    _, msgs = run(ActionHandoff(), t)
    assert msgs[0]["kind"] == "choices" and msgs[0]["item"] == "legal-aid"
    # "你们窗口的人态度太差了，我要投诉": web's asks_person (投诉) — a person.
    t = tracker("complain", dict(unsure(conf=0.2), asks_question=False, asks_person=True))
    _, msgs = run(ActionHandoff(), t)
    assert msgs == [{"kind": "handoff", "reason": "complaint"}]
    # Nothing retrieval is sure of: a person too.
    t = tracker("complain", dict(unsure(conf=0.2), asks_question=False, asks_person=False))
    _, msgs = run(ActionHandoff(), t)
    assert msgs == [{"kind": "handoff", "reason": "complaint"}]
