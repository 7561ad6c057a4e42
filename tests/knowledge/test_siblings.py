"""Items that share words are told apart: a golden list of sibling pairs (written for this test)."""

from __future__ import annotations

import pytest

from knowledge.service import KnowledgeBase

pytestmark = pytest.mark.integration

SIBLINGS = [
    # ID cards: renew / lost / temporary / first
    ("身份证用了十几年卡面花了，去换个新的", "id-card-renew"),
    ("钱包被偷了身份证也没了，怎么补", "id-card-lost"),
    ("正式的证要等好几天，我后天就要坐高铁，先开个临时的", "id-card-temp"),
    ("儿子刚满十岁，还没有身份证，头一回办", "id-card-first"),
    # HK-Macau vs Taiwan
    ("暑假想带孩子去香港迪士尼玩，通行证怎么办", "hk-macau-permit"),
    ("想去台湾环岛旅游，入台的证件去哪办", "taiwan-permit"),
    # pensions: resident vs flexible vs transfer vs claim
    ("在家务农没有单位，想交城乡居民养老保险", "pension-resident"),
    ("自己开网约车没单位，想按职工标准交养老保险", "pension-flexible"),
    ("以前在深圳交的养老保险想转回福建", "pension-transfer"),
    ("下个月满退休年龄了，怎么开始领养老金", "pension-claim"),
    # property: transfer vs inheritance vs mortgage vs new house
    ("买了一套二手房，跟卖家去办过户", "property-transfer"),
    ("父亲去世留下一套房，兄妹几个要把房子过到名下", "property-inherit"),
    ("拿房子去银行贷款，要先办抵押登记", "property-mortgage"),
    ("开发商交房了，新房的产权证怎么办", "property-new-house"),
    # housing provident fund
    ("没买房一直租房住，想把公积金取出来交房租", "hpf-withdraw-rent"),
    ("刚付了首付买房，公积金能取出来吗", "hpf-withdraw-buy"),
    ("辞职回老家了，公积金账户里的钱能全部取走吗", "hpf-withdraw-leave"),
    ("买房想用公积金贷款，能贷多少", "hpf-loan"),
    # unemployment
    ("被公司裁员了，失业金怎么领", "unemployment-benefit"),
    ("没工作了想去登记失业，好找政府介绍工作", "unemployment-registration"),
    # hukou
    ("老婆户口在江西，想迁到我家户口本上", "hukou-move-in"),
    ("户口本上我的民族登记错了要改", "hukou-change"),
    # social card
    ("社保卡弄丢了要挂失补一张", "social-card-replace"),
    ("孩子第一次办社保卡", "social-card-apply"),
]


@pytest.mark.parametrize(("question", "item"), SIBLINGS)
def test_sibling_question_picks_its_own_item(kb: KnowledgeBase, question: str, item: str) -> None:
    r = kb.retriever.search(question)
    assert r.candidates and r.candidates[0].item == item, [c.item for c in r.candidates]
    assert not r.abstain, (question, r.confidence)


def test_first_time_is_not_one_trip() -> None:
    # "第一次办" (the first time) is not "一次办" (all in one trip): no bundle cue.
    from knowledge.retrieval import BUNDLE_CUE

    assert not BUNDLE_CUE.search("孩子第一次办社保卡") and BUNDLE_CUE.search("出生的几件事能一次办吗")
