"""The cue words a question's own words are read by: moving on, asking for one's own record,
asking for the checklist. Each cue both fires and stays quiet where it should."""

from __future__ import annotations

import pytest

from knowledge.retrieval import SWITCH_CUE, asks_for_list
from knowledge.retrieval.query import LOOKUP_CUE


@pytest.mark.parametrize(
    ("text", "moves_on"),
    [
        ("那我老伴刚满60岁，她的老年人优待证又去哪里办呢", True),  # 那…呢 over a long span
        ("另外，租房合同备案去哪办", True),
        ("那要多少钱", False),
        ("那我先去拍照。明天再来问呢", False),  # 那 and 呢 in two sentences
    ],
)
def test_move_on_cue(text: str, moves_on: bool) -> None:
    assert bool(SWITCH_CUE.search(text)) is moves_on


@pytest.mark.parametrize(
    ("text", "lookup"),
    [
        ("我的公积金还剩多少", True),
        ("帮我看一下今年医保交上了没", True),
        ("失业金申请审核到哪一步了", True),
        ("how much money is left in my account", True),
        ("check whether my pension has been paid", True),
        ("身份证丢了要带什么", False),
        ("公积金怎么提取", False),
        ("无犯罪记录证明去哪开", False),
        ("how do i apply for a passport", False),
    ],
)
def test_own_record_cue(text: str, lookup: bool) -> None:
    assert bool(LOOKUP_CUE.search(text)) is lookup


@pytest.mark.parametrize(
    ("text", "wants_list"),
    [("要带什么，多少钱", True), ("要哪些材料", True), ("改户名要收手续费吗", False), ("要什么时候去", False)],
)
def test_list_cue(text: str, wants_list: bool) -> None:
    assert asks_for_list(text) is wants_list


def test_own_record_words_turn_a_guide_match_into_the_look_up(kb) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from knowledge.retrieval import Retriever

    q = "我儿子的居民医保今年交了没，帮我看下"
    shipped = kb.retriever.search(q)
    assert shipped.declined_topic == "look:medical-insurance-status", shipped.declined_topic
    off = Retriever(
        kb.index,
        dataclasses.replace(kb.retriever.config, lookup_lead=None),
        situations=kb.retriever.situation_ids,
        calibration=kb.retriever.calibration,
    )
    assert off.search(q).declined_topic is None  # without the rule the fund's guides win
    assert kb.retriever.search("公积金怎么提取").declined_topic is None  # no look-up words: the guide
