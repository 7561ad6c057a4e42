"""The confidence calibration fitted on the folds' held-out questions, and its shipped file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from knowledge.crossval import (
    Outcome,
    choose_threshold,
    choose_thresholds,
    fit_fold_calibration,
    metrics,
)
from knowledge.retrieval.calibration import FEATURES, load_fold_calibration


def _outcomes(n: int = 600, seed: int = 3) -> list[Outcome]:
    """Synthetic held-out questions in three folds: right answers have high coverage and covered
    mass; questions about topics the index never saw have low ones, and some are declined."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        fold = f"batch:w{k % 3}"
        kind = rng.random()
        if kind < 0.6:  # in scope, ranked right
            f = (rng.uniform(0.6, 1.0), 2.0, 0.02, 0.1, rng.uniform(2.0, 4.0), rng.uniform(0.0, 0.4))
            rows.append(Outcome(fold, "short", "a", ("a", "b"), 0.5, False, features=f))
        elif kind < 0.7:  # in scope, ranked wrong
            f = (rng.uniform(0.3, 0.8), 1.0, 0.01, 0.3, rng.uniform(1.0, 2.5), rng.uniform(0.3, 0.6))
            rows.append(Outcome(fold, "short", "a", ("b", "a"), 0.5, False, features=f))
        else:  # a topic without a guide, held out whole
            declined = rng.random() < 0.3
            f = (rng.uniform(0.0, 0.6), 0.5, 0.01, 0.5, rng.uniform(0.0, 1.8), rng.uniform(0.4, 0.8))
            rows.append(Outcome(fold, "not-a-guide", None, ("a",), 0.5, declined, features=f, topic="_ref:x"))
    return rows


def test_fold_calibration_separates_unknown_topics_and_reports_nested_figures() -> None:
    rows = _outcomes()
    got = fit_fold_calibration(rows)
    assert got["features"] == list(FEATURES) and len(got["weights"]) == len(FEATURES)
    assert got["folds"] == ["batch:w0", "batch:w1", "batch:w2"]
    nested = got["nested"]
    assert nested["n_in_scope"] + nested["n_not_a_guide"] == len(rows)  # declined ones counted too
    assert nested["false_abstain_rate"] <= 0.03  # the policy the threshold is chosen under
    assert nested["abstain_recall"] > 0.8  # the synthetic topics are separable: most are declined
    assert 0 < got["threshold"] < 1


def test_fold_calibration_needs_two_folds() -> None:
    rows = [o for o in _outcomes() if o.fold == "batch:w0"]
    with pytest.raises(ValueError, match="two folds"):
        fit_fold_calibration(rows)


def test_shipped_calibration_file_loads_and_a_broken_one_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "confidence.json"
    assert load_fold_calibration(path) is None  # none shipped: the index's own fit is used
    got = fit_fold_calibration(_outcomes())
    path.write_text(json.dumps(got), encoding="utf-8")
    loaded = load_fold_calibration(path)
    assert loaded is not None
    assert loaded.threshold == got["threshold"] and loaded.calibration.weights == tuple(got["weights"])
    assert loaded.english_threshold == got["threshold_english"]
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="eval-cv --write-calibration"):
        load_fold_calibration(path)
    path.write_text(json.dumps({**got, "threshold": 7}), encoding="utf-8")
    with pytest.raises(ValueError, match="threshold"):
        load_fold_calibration(path)
    # fitted on other features (an older file): not used, the index's own calibration is
    path.write_text(json.dumps({**got, "features": ["coverage"], "weights": [1.0]}), encoding="utf-8")
    assert load_fold_calibration(path) is None


def test_english_questions_get_their_own_threshold_chosen_on_the_folds() -> None:
    """English questions whose confidence runs lower get a lower threshold of their own, so
    the Chinese threshold is not dragged down to keep them; each keeps false abstain in policy."""
    rows = []
    for k in range(100):  # Chinese: in scope with confidence 0.50-0.99, not a guide 0.00-0.49
        rows.append(Outcome("batch:w0", "short", "a", ("a",), 0.5 + k * 0.005, False, question="换身份证"))
        rows.append(Outcome("batch:w0", "short", None, ("a",), k * 0.0049, False, question="商标注册"))
    for k in range(100):  # English: in scope 0.20-0.69
        rows.append(Outcome("batch:w1", "english", "a", ("a",), 0.2 + k * 0.005, False, question="renew my id card"))
    zh, en = choose_thresholds(rows)
    assert 0.5 <= zh <= 0.52 and 0.2 <= en <= 0.22
    assert choose_threshold(rows) < 0.25  # one pooled threshold would let half the Chinese unknowns through
    assert metrics(rows, zh, en)["abstain_recall"] == 1.0
    assert metrics(rows, 0.2)["abstain_recall"] < 0.6
    got = fit_fold_calibration(_outcomes())  # no English questions: the same threshold for both
    assert got["threshold_english"] == got["threshold"]


def test_retriever_uses_the_english_threshold_for_english_questions(kb) -> None:  # type: ignore[no-untyped-def]
    import dataclasses as dc

    retriever = kb.retriever
    saved = retriever.config
    try:
        retriever.config = dc.replace(saved, abstain_threshold=0.99, english_threshold=0.0)
        assert retriever.search("How do I renew my ID card?").abstain is False
        assert retriever.search("换身份证要带什么").abstain is True
    finally:
        retriever.config = saved
