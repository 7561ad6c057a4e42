from __future__ import annotations

import pytest

from knowledge.retrieval import Aspect, detect_aspect, reciprocal_rank_fusion

pytestmark = pytest.mark.unit


def test_rrf_top_in_both_rankings_scores_one() -> None:
    fused = reciprocal_rank_fusion([[7, 1, 2], [7, 2, 1]])
    assert fused[7] == pytest.approx(1.0)
    assert fused[1] == pytest.approx(fused[2])


def test_rrf_agreement_beats_a_single_first_place() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [2, 3, 1]])
    assert max(fused, key=fused.__getitem__) == 2


def test_rrf_zero_weight_ignores_a_ranking() -> None:
    fused = reciprocal_rank_fusion([[1, 2], [2, 1]], weights=[1.0, 0.0])
    assert fused[1] > fused[2]


def test_rrf_needs_one_weight_per_ranking() -> None:
    with pytest.raises(ValueError, match="one weight per ranking"):
        reciprocal_rank_fusion([[1]], weights=[1.0, 2.0])


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("换身份证要多少钱", Aspect.FEE),
        ("几天能拿到", Aspect.TIME),
        ("周六开门吗", Aspect.HOURS),
        ("在哪里办", Aspect.WHERE),
        ("能在手机上办吗", Aspect.ONLINE),
        ("一定要去现场吗", Aspect.ONLINE),
        ("可以不去窗口吗", Aspect.ONLINE),
        ("非得她本人去吗", Aspect.PROXY),
        ("这张能用多长时间", Aspect.VALIDITY),
        ("过几年会失效吗", Aspect.VALIDITY),
        ("要带什么材料", Aspect.MATERIALS),
        ("身份证", None),
    ],
)
def test_detect_aspect(text: str, aspect: Aspect | None) -> None:
    assert detect_aspect(text) is aspect
