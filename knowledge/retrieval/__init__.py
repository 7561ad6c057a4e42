"""Retrieval: from a question to ranked items, a situation, an aspect and a confidence.

The modules: ``query`` (what the question's own words say: aspect, cues), ``fusion``
(reciprocal rank fusion), ``calibration`` (the confidence model and its fit) and
``retriever`` (the hybrid retriever and its result types).
"""

from __future__ import annotations

from knowledge.retrieval.calibration import Calibration, Ranker, fit_calibration
from knowledge.retrieval.fusion import RRF_K, reciprocal_rank_fusion
from knowledge.retrieval.query import (
    ASPECT_CUES,
    ASPECT_PATTERNS,
    BUNDLE_CUE,
    FOLLOW_UP_CHARS,
    GENERIC,
    SWITCH_CUE,
    Aspect,
    asks_for_list,
    detect_aspect,
    is_question,
)
from knowledge.retrieval.retriever import (
    MIN_SALIENCE,
    SITUATION_MIN,
    SITUATION_RATIO,
    Candidate,
    Declined,
    Ranking,
    RetrievalResult,
    Retriever,
    RetrieverConfig,
    declined_key,
    declined_kind,
)

__all__ = [
    "ASPECT_CUES",
    "ASPECT_PATTERNS",
    "BUNDLE_CUE",
    "FOLLOW_UP_CHARS",
    "GENERIC",
    "MIN_SALIENCE",
    "RRF_K",
    "SITUATION_MIN",
    "SITUATION_RATIO",
    "SWITCH_CUE",
    "Aspect",
    "Calibration",
    "Candidate",
    "Declined",
    "Ranker",
    "Ranking",
    "RetrievalResult",
    "Retriever",
    "RetrieverConfig",
    "asks_for_list",
    "declined_key",
    "declined_kind",
    "detect_aspect",
    "fit_calibration",
    "is_question",
    "reciprocal_rank_fusion",
]
