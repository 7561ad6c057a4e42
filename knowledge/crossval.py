"""Cross-validation of retrieval on our own data: held out by writer batch and by style.

The public dev set is for a last check, never for choosing anything. Everything
that is tuned (the abstention threshold) is chosen here, on folds of the guides'
own asks and of the entries that have no guide:

- a **batch fold** holds out every ask one writer wrote (``guides/asks/<batch>/``);
- a **style fold** holds out every ask of a group of styles (all English asks, all
  dialect asks …), whoever wrote them;
- every fold also holds out a slice of the out-of-scope topics, referral entries and
  look-ups, whole: their asks must be declined by an index that never saw them.

For each fold the index (lexical side, the dense domain model and the calibration)
is rebuilt from what is left, so nothing held out leaks into any part. Each held-out
question is searched once with no threshold; the metrics for any threshold follow
from the recorded confidence, so a sweep costs nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.index import (
    CALIBRATION,
    LOOKUP_PREFIX,
    OOS_PREFIX,
    REFERRAL_PREFIX,
    load_index_files,
    read_manifest,
)
from knowledge.library import GUIDE_BATCH, AskRecord, Library
from knowledge.pipeline import build_index, calibrate_index
from knowledge.retrieval import Calibration, Retriever, RetrieverConfig
from knowledge.retrieval.calibration import FEATURES, fit_logistic
from knowledge.retrieval.retriever import written_in_english
from knowledge.settings import DOMAIN_EMBEDDER, FaissKind

logger = logging.getLogger(__name__)

# Styles held out together: each group is a way of writing the index may never have seen.
STYLE_GROUPS: dict[str, frozenset[str]] = {
    "elderly+relative": frozenset({"elderly", "relative"}),
    "indirect": frozenset({"indirect"}),
    "colloquial+short": frozenset({"colloquial", "short"}),
    "typo+traditional": frozenset({"typo", "traditional"}),
    "english": frozenset({"english"}),
    "dialect": frozenset({"dialect", "minnan", "cantonese", "northern"}),
}
MAX_FALSE_ABSTAIN = 0.03  # the policy the threshold is chosen under (target ≤ 0.04, with margin)
THRESHOLDS = [round(t * 0.01, 2) for t in range(0, 91)]


@dataclass(frozen=True)
class Fold:
    name: str
    asks: frozenset[AskRecord]
    topics: frozenset[str]  # index keys (_oos:…, _ref:…, _look:…) held out whole


@dataclass(frozen=True)
class Outcome:
    """One held-out question, searched with no threshold."""

    fold: str
    style: str
    expected: str | None  # None: no guide is right (a held-out topic)
    ranked: tuple[str, ...]
    confidence: float
    declined: bool  # matched an out-of-scope / referral / look-up entry, or names nothing
    situation: str | None = None  # the situation the ask's words determine (labelled by its writer)
    predicted_situation: str | None = None
    question: str = ""
    topic: str | None = None  # the held-out topic (index key) a not-a-guide question belongs to
    features: tuple[float, ...] = ()  # the ranking's confidence features (calibration.FEATURES)

    def abstains(self, threshold: float) -> bool:
        return self.declined or not self.ranked or self.confidence < threshold


@dataclass
class Metrics:
    n_in: int = 0
    n_out: int = 0
    hit1: int = 0
    hit3: int = 0
    abstain_right: int = 0
    false_abstain: int = 0
    situation_labelled: int = 0
    situation_right: int = 0
    situation_wrong: int = 0  # a situation picked, but not the labelled one (asking back is not wrong)
    by_style: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(self, o: Outcome, threshold: float) -> None:
        abstain = o.abstains(threshold)
        if o.expected is None:
            self.n_out += 1
            self.abstain_right += abstain
            return
        self.n_in += 1
        right = not abstain and o.ranked[:1] == (o.expected,)
        self.hit1 += right
        self.hit3 += o.expected in o.ranked[:3]
        self.false_abstain += abstain
        if o.situation is not None and o.ranked[:1] == (o.expected,):
            self.situation_labelled += 1
            self.situation_right += o.predicted_situation == o.situation
            self.situation_wrong += o.predicted_situation not in (None, o.situation)
        cell = self.by_style[o.style]
        cell[0] += right
        cell[1] += 1

    def summary(self) -> dict[str, Any]:
        def r(a: int, b: int) -> float:
            return round(a / b, 4) if b else 0.0

        return {
            "n_in_scope": self.n_in,
            "n_not_a_guide": self.n_out,
            "hit_at_1": r(self.hit1, self.n_in),
            "hit_at_3": r(self.hit3, self.n_in),
            "abstain_recall": r(self.abstain_right, self.n_out),
            "false_abstain_rate": r(self.false_abstain, self.n_in),
            "situation_n": self.situation_labelled,
            "situation_right": r(self.situation_right, self.situation_labelled),
            "situation_wrong": r(self.situation_wrong, self.situation_labelled),
            "by_style": {s: {"n": n, "hit_at_1": r(h, n)} for s, (h, n) in sorted(self.by_style.items())},
        }


def _slice(key: str, n: int) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % n


def topic_keys(lib: Library) -> list[str]:
    return [
        *(OOS_PREFIX + t for t in lib.out_of_scope),
        *(REFERRAL_PREFIX + r for r in lib.referrals),
        *(LOOKUP_PREFIX + x for x in lib.lookups),
    ]


def make_folds(lib: Library, kinds: Sequence[str] = ("batch", "style")) -> list[Fold]:
    """Batch folds (one per writer batch) and style folds (one per style group)."""
    tagged = [a for a in lib.asks if a.batch != GUIDE_BATCH]
    specs: list[tuple[str, frozenset[AskRecord]]] = []
    if "batch" in kinds:
        for batch in sorted({a.batch for a in tagged}):
            specs.append((f"batch:{batch}", frozenset(a for a in tagged if a.batch == batch)))
    if "style" in kinds:
        for group, styles in STYLE_GROUPS.items():
            held = frozenset(a for a in tagged if a.style in styles)
            if held:
                specs.append((f"style:{group}", held))
    keys = topic_keys(lib)
    return [
        Fold(name, asks, frozenset(k for k in keys if _slice(k, len(specs)) == n))
        for n, (name, asks) in enumerate(specs)
    ]


def held_out_library(lib: Library, fold: Fold) -> Library:
    """The library without the fold's asks and topics (the guides themselves stay)."""
    keep = [a for a in lib.asks if a not in fold.asks]
    return dataclasses.replace(
        lib,
        asks=keep,
        out_of_scope={k: v for k, v in lib.out_of_scope.items() if OOS_PREFIX + k not in fold.topics},
        referrals={k: v for k, v in lib.referrals.items() if REFERRAL_PREFIX + k not in fold.topics},
        lookups={k: v for k, v in lib.lookups.items() if LOOKUP_PREFIX + k not in fold.topics},
        content_hash=f"{lib.content_hash}-without-{fold.name}",
    )


def _topic_asks(lib: Library, key: str) -> list[str]:
    if key.startswith(OOS_PREFIX):
        return list(lib.out_of_scope[key.removeprefix(OOS_PREFIX)].asks)
    if key.startswith(REFERRAL_PREFIX):
        return list(lib.referrals[key.removeprefix(REFERRAL_PREFIX)].asks)
    return list(lib.lookups[key.removeprefix(LOOKUP_PREFIX)].asks)


def run_fold(
    lib: Library,
    fold: Fold,
    work: Path,
    embedder: str = DOMAIN_EMBEDDER,
    epochs: int | None = None,
    config: RetrieverConfig | None = None,
) -> list[Outcome]:
    """Rebuild the index without the fold (or reuse the one built from exactly the same
    content under ``work``), then search every held-out question once."""
    train = held_out_library(lib, fold)
    out = work / fold.name.replace(":", "-")
    manifest = read_manifest(out)
    if manifest is None or manifest.guides_hash != train.content_hash or manifest.embedder != embedder:
        build_index(train, out, embedder, kind=FaissKind.FLAT, epochs=epochs)
        manifest = read_manifest(out)
    assert manifest is not None
    saved = json.loads((out / CALIBRATION).read_text(encoding="utf-8")) if (out / CALIBRATION).exists() else {}
    if len(saved.get("weights", ())) != len(Calibration().weights):
        calibrate_index(out, train, manifest)  # the features changed since this fold was built
    index = load_index_files(out, train, manifest)
    retriever = Retriever(
        index,
        dataclasses.replace(config or RetrieverConfig(), abstain_threshold=0.0),
        situations={c: [s.id for s in g.situations] for c, g in lib.guides.items()},
        bundles={c: frozenset(g.members) for c, g in lib.guides.items() if g.bundle},
        names=lib.names(),
        situation_names=lib.situation_names(),
    )
    questions: list[tuple[str, str, str | None, str | None, str | None]] = [
        (a.q, a.style, a.item, a.situation, None) for a in sorted(fold.asks, key=str)
    ]
    for key in sorted(fold.topics):
        questions += [(q, "not-a-guide", None, None, key) for q in _topic_asks(lib, key)]
    outcomes = []
    for q, style, expected, situation, topic in questions:
        r = retriever.search(q)
        top = r.candidates[0] if r.candidates else None
        outcomes.append(
            Outcome(
                fold.name,
                style,
                expected,
                tuple(c.item for c in r.candidates),
                r.confidence,
                r.abstain,
                situation,
                top.situation if top else None,
                q,
                topic,
                r.features,
            )
        )
    return outcomes


def choose_threshold(outcomes: Iterable[Outcome], max_false_abstain: float = MAX_FALSE_ABSTAIN) -> float:
    """The highest threshold whose pooled false-abstain rate stays within the policy:
    decline as much as possible without turning away more in-scope questions than that."""
    rows = list(outcomes)
    in_scope = [o for o in rows if o.expected is not None]
    best = 0.0
    for t in THRESHOLDS:
        rate = sum(o.abstains(t) for o in in_scope) / max(1, len(in_scope))
        if rate <= max_false_abstain:
            best = t
    return best


def by_language(outcomes: Iterable[Outcome]) -> tuple[list[Outcome], list[Outcome]]:
    """The questions written in Chinese, and those written in English."""
    rows = list(outcomes)
    english = [written_in_english(o.question) for o in rows]
    return [o for o, e in zip(rows, english, strict=True) if not e], [
        o for o, e in zip(rows, english, strict=True) if e
    ]


def choose_thresholds(outcomes: Iterable[Outcome]) -> tuple[float, float]:
    """The thresholds for Chinese and for English questions, each chosen on its own questions
    under the same policy (English falls back to the Chinese one when none is in scope)."""
    chinese, english = by_language(outcomes)
    threshold = choose_threshold(chinese)
    return threshold, choose_threshold(english) if any(o.expected for o in english) else threshold


def metrics(outcomes: Iterable[Outcome], threshold: float, english_threshold: float | None = None) -> dict[str, Any]:
    """The figures at ``threshold``; English questions at ``english_threshold`` when given."""
    m = Metrics()
    for o in outcomes:
        english = english_threshold is not None and written_in_english(o.question)
        m.add(o, english_threshold if english and english_threshold is not None else threshold)
    return m.summary()


def _fit_on(rows: Sequence[Outcome]) -> Calibration:
    """A logistic calibration fitted on held-out outcomes: P(the top item is the right one)."""
    x = np.asarray([o.features for o in rows], dtype=float)
    y = np.asarray([float(o.expected is not None and o.ranked[:1] == (o.expected,)) for o in rows])
    w = fit_logistic(x, y)
    return Calibration(weights=tuple(float(v) for v in w[1:]), bias=float(w[0]))


def fit_fold_calibration(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The confidence calibration learnt from the folds' held-out questions, not from the
    leave-one-out asks of a build: those keep every other ask of the same writer and style in
    the index, so they are easier than a resident's question, and a topic nobody wrote down
    looks different from a held-out ask of a known one.

    Reported honestly by nesting: each fold's questions are scored by a calibration fitted on
    the other folds only, the threshold is chosen on those scores (pooled false abstain ≤
    ``MAX_FALSE_ABSTAIN``) and the metrics are read from them. What ships (weights, bias,
    threshold) is fitted on every fold. Questions already declined (they matched an entry
    without a guide, or name nothing) are not the calibration's to decide and are left out
    of its fit.
    """
    rows = [o for o in outcomes if not o.declined and o.ranked and len(o.features) == len(FEATURES)]
    folds = sorted({o.fold for o in rows})
    if len(folds) < 2:
        raise ValueError("fold calibration needs at least two folds with outcomes")
    nested: list[Outcome] = []
    for fold in folds:
        calib = _fit_on([o for o in rows if o.fold != fold])
        nested += [dataclasses.replace(o, confidence=calib(o.features)) for o in rows if o.fold == fold]
    fitted = set(rows)
    nested += [o for o in outcomes if o not in fitted]  # the declined ones abstain at any threshold
    # Questions written in English get their own threshold: fewer asks to match, so their
    # confidence runs lower, and one pooled threshold low enough for them declines nothing else.
    chinese, english = by_language(nested)
    threshold, english_threshold = choose_thresholds(nested)
    final = _fit_on(rows)
    return {
        "source": "folds",
        "features": list(FEATURES),
        "weights": [round(w, 6) for w in final.weights],
        "bias": round(final.bias, 6),
        "threshold": threshold,
        "threshold_english": english_threshold,
        "policy": (
            f"highest threshold with false abstain <= {MAX_FALSE_ABSTAIN} on nested fold scores, "
            "chosen for Chinese and for English questions apart"
        ),
        "folds": folds,
        "samples": len(rows),
        "nested": metrics(nested, threshold, english_threshold),
        "nested_chinese": metrics(chinese, threshold),
        "nested_english": metrics(english, english_threshold),
    }


def cross_validate(
    lib: Library,
    *,
    kinds: Sequence[str] = ("batch", "style"),
    embedder: str = DOMAIN_EMBEDDER,
    epochs: int | None = None,
    work: Path | None = None,
    shipped_threshold: float | None = None,
    config: RetrieverConfig | None = None,
    outcomes_path: Path | None = None,
) -> dict[str, Any]:
    """Run every fold; choose the threshold on the pooled folds; report per fold and per style.
    ``outcomes_path``: also write every held-out question's outcome there (JSON lines), for
    reading the failures."""
    started = time.perf_counter()
    folds = make_folds(lib, kinds)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="menpai-cv-") as tmp:
        root = work or Path(tmp)
        for fold in folds:
            t0 = time.perf_counter()
            got = run_fold(lib, fold, root, embedder, epochs, config)
            outcomes += got
            logger.info("fold %s: %d questions in %.0fs", fold.name, len(got), time.perf_counter() - t0)
    chosen = choose_threshold(outcomes)
    fold_calibration = fit_fold_calibration(outcomes) if len(folds) > 1 else None
    if outcomes_path is not None:
        outcomes_path.parent.mkdir(parents=True, exist_ok=True)
        with outcomes_path.open("w", encoding="utf-8") as f:
            for o in outcomes:
                f.write(json.dumps(dataclasses.asdict(o), ensure_ascii=False) + "\n")
    report: dict[str, Any] = {
        "folds": [f.name for f in folds],
        "chosen_threshold": chosen,
        "policy": f"highest threshold with pooled false abstain <= {MAX_FALSE_ABSTAIN}",
        "pooled": metrics(outcomes, chosen),
        "by_fold": {f.name: metrics([o for o in outcomes if o.fold == f.name], chosen) for f in folds},
        "seconds": round(time.perf_counter() - started, 1),
    }
    if fold_calibration is not None:
        report["fold_calibration"] = fold_calibration
    if shipped_threshold is not None:
        report["shipped_threshold"] = shipped_threshold
        report["pooled_at_shipped"] = metrics(outcomes, shipped_threshold)
    for part in ("batch", "style"):
        rows = [o for o in outcomes if o.fold.startswith(part + ":")]
        if rows:
            report[f"{part}_folds"] = metrics(rows, chosen)
    return report


def situation_cv(lib: Library, retriever: Retriever, kinds: Sequence[str] = ("batch", "style")) -> dict[str, Any]:
    """The situation choice alone, on the right item, held out by fold.

    Each fold's asks are left out of the situation model (``exclude``) and asked of their
    own item; no index is rebuilt, so this runs in seconds. Labelled asks should get their
    situation (``right``), never another (``wrong``); an unlabelled ask of an item with
    several situations says nothing about which, so picking one (``guessed``) is a guess the
    resident did not ask for.
    """
    labelled = right = wrong = unlabelled = guessed = 0
    for fold in make_folds(lib, kinds):
        held = frozenset(a.q for a in fold.asks)
        for a in sorted(fold.asks, key=str):
            if a.item is None or len(retriever.situation_ids.get(a.item, ())) <= 1:
                continue
            got = retriever.situation_for(a.item, a.q, held)
            if a.situation is None:
                unlabelled += 1
                guessed += got is not None
            else:
                labelled += 1
                right += got == a.situation
                wrong += got not in (None, a.situation)

    def r(a: int, b: int) -> float:
        return round(a / b, 4) if b else 0.0

    return {
        "margin": retriever.config.situation_nb_margin,
        "labelled": labelled,
        "right": r(right, labelled),
        "wrong": r(wrong, labelled),
        "unlabelled": unlabelled,
        "guessed": r(guessed, unlabelled),
        # A wrong situation sends the resident with the wrong papers (a wasted trip: counts 3);
        # a guess on an open question may be wrong too (1); asking back costs a tap (0).
        "utility": right - WRONG_SITUATION_COST * wrong - guessed,
    }


WRONG_SITUATION_COST = 3
SITUATION_MARGINS = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5)
NAME_MARGINS = (-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25)


def sweep_situation_margin(
    lib: Library, retriever: Retriever, kinds: Sequence[str] = ("batch", "style")
) -> dict[str, Any]:
    """``situation_cv`` at each margin; the chosen margin has the highest utility."""
    rows = []
    for margin in SITUATION_MARGINS:
        trial = copy.copy(retriever)  # shares the fitted models; only the margin differs
        trial.config = dataclasses.replace(retriever.config, situation_nb_margin=margin, situation_name_margin=None)
        rows.append(situation_cv(lib, trial, kinds))
    best = max(rows, key=lambda row: row["utility"])
    # Then, at that margin, the smaller lead enough when a word of the situation's name is said.
    names = []
    for name_margin in NAME_MARGINS:
        trial = copy.copy(retriever)
        trial.config = dataclasses.replace(
            retriever.config, situation_nb_margin=best["margin"], situation_name_margin=name_margin
        )
        names.append({**situation_cv(lib, trial, kinds), "name_margin": name_margin})
    named = max(names, key=lambda row: row["utility"])
    return {
        "chosen_margin": best["margin"],
        "shipped_margin": retriever.config.situation_nb_margin,
        "sweep": rows,
        "chosen_name_margin": named["name_margin"] if named["utility"] > best["utility"] else None,
        "shipped_name_margin": retriever.config.situation_name_margin,
        "name_sweep": names,
    }
