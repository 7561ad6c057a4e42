"""Reciprocal rank fusion: several rankings of the same entry ids into one score per id.

A pure function (haystack's ``_reciprocal_rank_fusion``), so the fusion of the lexical
and dense sides can be tested without an index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> dict[int, float]:
    """Fuse several rankings of the same ids into one score per id.

    Args:
        rankings: each a list of ids, best first.
        weights: one weight per ranking (default 1 each).
        k: the RRF constant; larger flattens the rank curve.

    Returns:
        id → fused score, higher is better. Scores are scaled so that an id
        ranked first in every ranking scores 1.0.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    total = sum(weights) or 1.0
    fused: dict[int, float] = defaultdict(float)
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, ident in enumerate(ranking):
            fused[ident] += weight / (k + rank + 1)
    scale = (k + 1) / total
    return {ident: score * scale for ident, score in fused.items()}
