"""Confidence calibration: the Calibration model, and its fit from the guides alone.

``Calibration`` maps the retriever's confidence features to P(top item is right).
``fit_calibration`` learns it without evaluation data. Leave-one-out: every ask of every
guide is searched with its own index entry left out, and labelled by whether the top
item is still its guide; every out-of-scope ask is searched with its whole topic left
out (a topic nobody wrote down yet), labelled wrong. A logistic regression on the
retriever's confidence features then maps them to P(top item is right). The fit takes
the ranker as a parameter (anything with the retriever's ``rank``), so this module does
not import the retriever, which imports it.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from knowledge.index.entries import LOOKUP_PREFIX, NOT_A_GUIDE, OOS_PREFIX, REFERRAL_PREFIX
from knowledge.index.files import Index
from knowledge.library import Library

logger = logging.getLogger(__name__)

MAX_FALSE_ABSTAIN = 0.03

OPENINGS = ["", "你好，", "您好，麻烦问一下，", "同志你好，请问", "打扰一下，我想问问，", "请问一下，"]
FILLERS = [
    "我年纪大了不太懂这些",
    "家里孩子都在外地上班",
    "我一个人在家腿脚也不方便",
    "之前问了好几个人都说不清楚",
    "村里干部让我来问问",
    "我不太会用手机",
]
CLOSINGS = ["", "，谢谢", "，谢谢你了", "，麻烦你了"]
# Questions that name no service at all (follow-ups, small talk): no item is the right answer.
NO_ITEM = [
    "那要多少钱",
    "要多久",
    "在哪里办",
    "几点开门",
    "周六上班吗",
    "要带什么",
    "能在网上办吗",
    "要本人去吗",
    "多少天能拿到",
    "怎么办理",
    "需要什么材料",
    "在哪",
    "收费吗",
    "中午休息吗",
    "可以代办吗",
    "要排队吗",
    "你好",
    "谢谢",
    "在吗",
    "好的",
    "人工",
    "我要投诉",
    "怎么弄啊",
    "手续麻烦吗",
    "去哪个窗口",
    "电话多少",
    "能快点吗",
    "不会弄",
    "材料要复印吗",
    "要照片吗",
    "how much",
    "where do i go",
]


# The confidence features of a ranking (``Retriever.rank``), in order.
FEATURES = (
    "coverage",  # IDF-weighted share of the question's known words the top item has
    "log_bm25",  # log1p of the top item's best BM25
    "margin",  # fused score of the top item over the next
    "near",  # nearest entry without a guide (out-of-scope, referral, look-up) over the top score
    "log_covered",  # log1p of the IDF mass the top item covers: how much speaks for it at all
    "missing",  # the rarest known word the top item lacks (its IDF / 10): a name it does not have
)


@dataclass(frozen=True)
class Calibration:
    """Logistic map from the confidence features (``FEATURES``) to P(top item is right).

    A question near a service we do not cover is more likely about another one we do not
    cover (``near``); one whose rarest word the item lacks (商标 for the business licence) is
    likely about something else (``missing``). A calibration saved with fewer weights (an
    older index) uses the features it knows.
    """

    weights: tuple[float, ...] = (6.0, 0.3, 2.0, 0.0, 0.0, 0.0)
    bias: float = -6.0

    def __call__(self, features: Sequence[float]) -> float:
        z = self.bias + sum(w * f for w, f in zip(self.weights, features, strict=False))
        return 1.0 / (1.0 + math.exp(-z))


# The calibration fitted on our folds (``menpai eval-cv --write-calibration``), shipped beside
# the guides; without it an index's own leave-one-out fit is used, with LOO_THRESHOLD.
CONFIDENCE_FILE = "confidence.json"
LOO_THRESHOLD = 0.04  # chosen by `menpai eval-cv` for the leave-one-out fit (2026-12-02/03)


@dataclass(frozen=True)
class FoldCalibration:
    """What ``menpai eval-cv --write-calibration`` ships: the calibration and the thresholds
    chosen with it on the folds — one for Chinese questions and one for questions written in
    English (their confidence runs lower: fewer asks to match), or the same for both."""

    calibration: Calibration
    threshold: float
    english_threshold: float | None = None


def load_fold_calibration(path: Path) -> FoldCalibration | None:
    """The fold-fitted calibration and its thresholds from ``path``; None when there is none,
    or when it was fitted on other features than today's (an older file: refit it).
    A file that is there but broken is an error, not a silent fallback."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        features, weights = list(data["features"]), [float(w) for w in data["weights"]]
        bias, threshold = float(data["bias"]), float(data["threshold"])
        english = data.get("threshold_english")
        english_threshold = None if english is None else float(english)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a calibration written by `menpai eval-cv --write-calibration` ({exc})") from exc
    thresholds = [threshold] if english_threshold is None else [threshold, english_threshold]
    if not all(math.isfinite(v) for v in [*weights, bias, *thresholds]) or not all(0 <= t <= 1 for t in thresholds):
        raise ValueError(f"{path}: weights, bias and threshold must be finite, the threshold within 0..1")
    if features != list(FEATURES) or len(weights) != len(FEATURES):
        logger.warning("%s was fitted on other features (%s): using the index's own calibration", path, features)
        return None
    return FoldCalibration(Calibration(tuple(weights), bias), threshold, english_threshold)


class Ranked(Protocol):
    """What ``fit_calibration`` reads of a ranking: the ranked items and the features."""

    @property
    def ranked(self) -> list[tuple[str, float]]: ...

    @property
    def features(self) -> tuple[float, ...]: ...


class Ranker(Protocol):
    """What ``fit_calibration`` needs of the retriever (``Retriever`` is one)."""

    def rank(self, normalized: str, *, exclude: frozenset[int] = ...) -> Ranked: ...


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 3000, lr: float = 0.5) -> np.ndarray:
    """Plain gradient descent on the log-loss; returns [bias, w1..wn]."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) / len(y) + l2 * np.r_[0.0, w[1:]]
        w -= lr * grad
    return w


def fit_calibration(index: Index, lib: Library, retriever: Ranker) -> dict[str, Any]:
    """Fit the calibration of ``retriever``'s confidence on ``index``; returns what is saved."""
    ids_by_text: dict[tuple[str, str], int] = {(e.item, e.text): i for i, e in enumerate(index.entries)}
    topic_ids: dict[str, list[int]] = {}
    for i, e in enumerate(index.entries):
        if e.item.startswith(NOT_A_GUIDE):
            topic_ids.setdefault(e.item, []).append(i)
    rows: list[tuple[float, ...]] = []
    labels: list[int] = []
    positive = []  # True where the sample is an in-scope question (answering it right is the goal)
    verbose = []  # True for the long, resident-style variants
    rng = random.Random(7)
    for code, guide in lib.guides.items():
        faq_text = {f.q: f"{guide.title} {f.q}" for f in guide.faqs}
        for n, ask in enumerate([a.q for a in lib.asks_of(code)] or guide.asks):
            exclude = frozenset({ids_by_text[(code, ask)]}) if (code, ask) in ids_by_text else frozenset()
            # Residents also write long: greetings, their story, a second question. Every other
            # ask is also tried that way, with the FAQ entry it borrows left out as well.
            variants = [(ask, exclude)]
            if n % 2 == 0 and guide.faqs:
                faq = rng.choice(guide.faqs).q
                long = f"{rng.choice(OPENINGS)}{ask}，{rng.choice(FILLERS)}，{faq}{rng.choice(CLOSINGS)}"
                extra = ids_by_text.get((code, faq_text[faq]))
                variants.append((long, exclude | ({extra} if extra is not None else set())))
            for text, excl in variants:
                r = retriever.rank(index.normalizer(text), exclude=frozenset(excl))
                rows.append(r.features)
                labels.append(int(bool(r.ranked) and r.ranked[0][0] == code))
                positive.append(True)
                verbose.append(text != ask)
    not_guides = [
        *((OOS_PREFIX + t.id, t.asks) for t in lib.out_of_scope.values()),
        *((REFERRAL_PREFIX + r.id, r.asks) for r in lib.referrals.values()),
        *((LOOKUP_PREFIX + x.id, x.asks) for x in lib.lookups.values()),
    ]
    for key, topic_asks in not_guides:
        exclude = frozenset(topic_ids.get(key, []))
        for ask in topic_asks:
            r = retriever.rank(index.normalizer(ask), exclude=exclude)
            rows.append(r.features)
            labels.append(0)
            positive.append(False)
            verbose.append(False)
    for text in NO_ITEM:
        r = retriever.rank(index.normalizer(text))
        rows.append(r.features)
        labels.append(0)
        positive.append(False)
        verbose.append(False)
    x, y = np.asarray(rows, dtype=float), np.asarray(labels, dtype=float)
    w = fit_logistic(x, y)
    calib = Calibration(weights=tuple(float(v) for v in w[1:]), bias=float(w[0]))
    probs = np.asarray([calib(r) for r in rows])
    pos = np.asarray(positive)
    # Product policy: abstain as much as possible while turning away at most MAX_FALSE_ABSTAIN of
    # the in-scope questions the retriever ranks right (a wrong refusal costs a resident a trip).
    # Measured on the long, resident-style variants: they are what residents really type.
    right = probs[pos & (y == 1) & np.asarray(verbose)]
    allowed = [float(t) for t in np.arange(0.01, 0.9, 0.01) if np.mean(right < t) <= MAX_FALSE_ABSTAIN]
    threshold = max(allowed) if allowed else 0.01
    best = (float(np.mean(np.where(pos, (probs >= threshold) & (y == 1), probs < threshold))), threshold)
    result = {
        "weights": list(calib.weights),
        "bias": calib.bias,
        "samples": len(y),
        "positives": int(y.sum()),
        "loo_top1": round(float(y[pos].mean()), 4),
        "best_threshold": round(float(best[1]), 2),
        "accuracy_at_best": round(best[0], 4),
        "log_loss": round(float(-np.mean(y * np.log(probs + 1e-9) + (1 - y) * np.log(1 - probs + 1e-9))), 4),
    }
    logger.info("calibration: %s", result)
    if not all(math.isfinite(v) for v in calib.weights):
        raise ValueError(f"calibration did not converge: {result}")
    return result
