"""`menpai eval-chat` judges replies exactly as the public checker documents."""

from __future__ import annotations

from typing import Any

from web.chat.evalchat import ReplyFacts, run_dialogues, verdict

ANSWER = {
    "mode": "bot",
    "messages": [
        {
            "kind": "answer",
            "item": "id-card-renew",
            "situation": "damaged",
            "text": "换身份证（证件损坏换证）：40元。\n详情：https://example.org/g/id-card-renew",
        }
    ],
}
CHOICES = {
    "mode": "bot",
    "messages": [
        {
            "kind": "choices",
            "item": "id-card-renew",
            "choice_kind": "situation",
            "text": "您是哪种情况？",
            "choices": [{"value": "damaged", "label": "证件损坏换证"}],
        }
    ],
}


def test_direct_answer_passes_and_urls_do_not_count_towards_length() -> None:
    facts = ReplyFacts.of(ANSWER)
    assert facts.kinds == ["answer"] and facts.answer_chars == len("换身份证（证件损坏换证）：40元。\n详情：")
    assert (
        verdict(
            {
                "kind": "answer",
                "item": "id-card-renew",
                "situation": "damaged",
                "says": ["40元|四十元"],
                "not_says": ["20元"],
                "max_chars": 40,
            },
            facts,
        )
        == []
    )


def test_each_wrong_expectation_is_reported() -> None:
    bad = verdict({"kind": "decline", "item": "passport", "says": ["re:周六"], "max_chars": 5}, ReplyFacts.of(ANSWER))
    assert len(bad) == 4 and bad[0].startswith("wanted a decline")


def test_a_choose_turn_taps_the_matching_option() -> None:
    sent: list[dict[str, Any]] = []

    def post(body: dict[str, Any]) -> dict[str, Any]:
        sent.append(body)
        return CHOICES if len(sent) == 1 else ANSWER

    rep = run_dialogues(
        [
            {
                "name": "d",
                "turns": [
                    {"say": "换身份证", "expect": {"kind": "choices"}},
                    {"choose": "损坏", "expect": {"situation": "damaged"}},
                ],
            }
        ],
        post,
    )
    assert rep.turns_passed == 2 and rep.dialogues_passed == 1
    assert sent[1]["choice"] == {
        "kind": "situation",
        "value": "damaged",
        "item": "id-card-renew",
        "label": "证件损坏换证",
    }


def test_a_failed_request_is_a_failed_turn() -> None:
    def post(body: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionError("down")

    rep = run_dialogues([{"name": "d", "turns": [{"say": "x", "expect": {}}]}], post)
    assert rep.turns == 1 and rep.turns_passed == 0 and "request failed" in rep.failures[0]["problems"][0]
