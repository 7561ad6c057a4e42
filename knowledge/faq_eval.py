"""Which common question (FAQ) a follow-up asks: measured by writer folds on guides/faq_asks.

Each writer labelled follow-ups for some guides with the FAQ they ask (or with none). A
follow-up is scored with its own text left out of the evidence (the other follow-ups labelled
with the same FAQ stay: they are another resident's words). The loose matcher's minimum and
margin are chosen on three writers' follow-ups and measured on the fourth's; the shipped
constants are measured on all. The objective counts a wrong FAQ twice: a resident acts on it.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from knowledge.retrieval import detect_aspect
from knowledge.retrieval.retriever import FAQ_LOOSE_MARGIN, FAQ_LOOSE_MIN, pick_faq
from knowledge.service import LOOSE_FAQ_ASPECTS, KnowledgeBase

MINIMA = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
MARGINS = (0.0, 0.05, 0.1, 0.15)
WRONG_COST = 2.0


@dataclass(frozen=True)
class Scored:
    writer: str
    style: str
    gold: int | None  # the FAQ it asks (its index in the guide), None: none does
    strict: int | None  # what the FAQ's own words pick (no threshold to choose)
    loose: list[float] | None  # the loose scores, when the question is one the loose matcher reads


def score_all(kb: KnowledgeBase) -> list[Scored]:
    out: list[Scored] = []
    norm, retriever = kb.index.normalizer, kb.retriever
    for a in kb.library.faq_asks:
        guide = kb.library.guides[a.item]
        questions = [f.q for f in guide.faqs]
        normalized = norm(a.q)
        strict = retriever.faq_match(a.item, normalized, questions, guide.title)
        loose = None
        if strict is None and detect_aspect(normalized) in LOOSE_FAQ_ASPECTS:
            loose = retriever.faq_scores(normalized, kb.faq_texts(a.item, frozenset({a.q})), guide.title)
        gold = questions.index(a.faq) if a.faq is not None else None
        out.append(Scored(a.writer, a.style, gold, strict, loose))
    return out


def pick(s: Scored, minimum: float, margin: float) -> int | None:
    return s.strict if s.strict is not None or not s.loose else pick_faq(s.loose, minimum, margin)


def tally(rows: list[Scored], minimum: float, margin: float) -> dict[str, float]:
    c: Counter[str] = Counter()
    for s in rows:
        got = pick(s, minimum, margin)
        if s.gold is None:
            c["none"] += 1
            c["answered_none"] += got is not None
        else:
            c["labelled"] += 1
            c["right"] += got == s.gold
            c["wrong"] += got is not None and got != s.gold
    lab, none = c["labelled"] or 1, c["none"] or 1
    return {
        "labelled": c["labelled"],
        "none": c["none"],
        "recall": round(c["right"] / lab, 3),
        "wrong": round(c["wrong"] / lab, 3),
        "false_match": round(c["answered_none"] / none, 3),
        "utility": c["right"] - WRONG_COST * c["wrong"] - c["answered_none"],
    }


def report(kb: KnowledgeBase) -> dict[str, Any]:
    rows = score_all(kb)
    writers = sorted({s.writer for s in rows})
    folds: dict[str, Any] = {}
    pooled: list[tuple[Scored, float, float]] = []
    for w in writers:
        train = [s for s in rows if s.writer != w]
        best = max(itertools.product(MINIMA, MARGINS), key=lambda p: (tally(train, *p)["utility"], p))
        held = [s for s in rows if s.writer == w]
        folds[w] = {"chosen": {"minimum": best[0], "margin": best[1]}, **tally(held, *best)}
        pooled += [(s, *best) for s in held]
    nested: Counter[str] = Counter()
    for s, mn, mg in pooled:
        got = pick(s, mn, mg)
        key = "none" if s.gold is None else "labelled"
        nested[key] += 1
        if s.gold is None:
            nested["answered_none"] += got is not None
        else:
            nested["right"] += got == s.gold
            nested["wrong"] += got is not None and got != s.gold
    by_style: dict[str, list[Scored]] = defaultdict(list)
    for s in rows:
        by_style[s.style].append(s)
    return {
        "shipped": {
            "minimum": FAQ_LOOSE_MIN,
            "margin": FAQ_LOOSE_MARGIN,
            **tally(rows, FAQ_LOOSE_MIN, FAQ_LOOSE_MARGIN),
        },
        "strict_only": tally(rows, 99.0, 99.0),
        "nested": {
            "recall": round(nested["right"] / max(nested["labelled"], 1), 3),
            "wrong": round(nested["wrong"] / max(nested["labelled"], 1), 3),
            "false_match": round(nested["answered_none"] / max(nested["none"], 1), 3),
        },
        "folds": folds,
        "by_style": {k: tally(v, FAQ_LOOSE_MIN, FAQ_LOOSE_MARGIN) for k, v in sorted(by_style.items())},
    }


def summary(rep: dict[str, Any]) -> str:
    s, n = rep["shipped"], rep["nested"]
    lines = [
        f"follow-ups: {s['labelled']} labelled with a FAQ, {s['none']} with none",
        f"shipped (min {s['minimum']}, margin {s['margin']}): recall {s['recall']}, wrong {s['wrong']}, "
        f"false match {s['false_match']}",
        f"FAQ's own words only: recall {rep['strict_only']['recall']}, wrong {rep['strict_only']['wrong']}, "
        f"false match {rep['strict_only']['false_match']}",
        f"nested (chosen on 3 writers, measured on the 4th): recall {n['recall']}, wrong {n['wrong']}, "
        f"false match {n['false_match']}",
    ]
    for w, f in rep["folds"].items():
        lines.append(
            f"  {w}: chosen min {f['chosen']['minimum']} margin {f['chosen']['margin']} → recall {f['recall']}, "
            f"wrong {f['wrong']}, false match {f['false_match']}"
        )
    for k, t in rep["by_style"].items():
        lines.append(f"  style {k}: recall {t['recall']} wrong {t['wrong']} false match {t['false_match']}")
    return "\n".join(lines)
