"""Evaluation of retrieval on a labelled question set, per retrieval part.

A hit for an in-scope question is its item first and no abstention; for a
question labelled null (nothing fits) a hit is an abstention. The JSON shape is
an interface other tools depend on: see ``report()``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.answer import build_answer
from knowledge.service import KnowledgeBase

# Each part alone (lexical, dense, the item classifier) and the shipped fusion of all three.
PARTS = {
    "lexical": (True, False, False),
    "dense": (False, True, False),
    "classifier": (False, False, True),
    "hybrid": (True, True, True),
}


@dataclass(frozen=True)
class Case:
    q: str
    item: str | None
    must_mention: tuple[str, ...] = ()
    style: str = ""


def load_eval_set(path: Path) -> list[Case]:
    rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [Case(r["q"], r.get("item"), tuple(r.get("must_mention") or ()), r.get("style", "")) for r in rows]


def _mentions(kb: KnowledgeBase, item: str, situation: str | None, must: tuple[str, ...]) -> tuple[int, int]:
    """How many must-mention groups the answer's checklist contains (each group: a|b alternatives)."""
    answer = build_answer(kb.library, item, situation, now=kb.clock.now())
    text = kb.index.normalizer(" ".join(f"{c.name} {c.notes} {c.source}" for c in answer.checklist))
    raw = " ".join(f"{c.name} {c.notes} {c.source}" for c in answer.checklist)
    found = sum(any(alt in raw or kb.index.normalizer(alt) in text for alt in group.split("|")) for group in must)
    return found, len(must)


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def evaluate(
    kb: KnowledgeBase, cases: list[Case], *, lexical: bool = True, dense: bool = True, classifier: bool = True
) -> dict[str, Any]:
    """Metrics for one retriever setting, plus per-question results."""
    by_style: dict[str, list[bool]] = defaultdict(list)
    latencies: list[float] = []
    hits = hit3 = 0
    rr = 0.0
    abstained_total = abstained_right = oos = in_scope = false_abstain = 0
    mention_found = mention_total = 0
    results = []
    for case in cases:
        started = time.perf_counter()
        r = kb.retriever.search(case.q, lexical=lexical, dense=dense, classifier=classifier)
        latencies.append((time.perf_counter() - started) * 1000)
        predicted = [c.item for c in r.candidates]
        if case.item is None:
            oos += 1
            hit = r.abstain
            hit3 += hit
            rr += hit
        else:
            in_scope += 1
            hit = not r.abstain and predicted[:1] == [case.item]
            hit3 += case.item in predicted[:3]
            rr += 1.0 / (predicted.index(case.item) + 1) if case.item in predicted else 0.0
            false_abstain += r.abstain
            if case.must_mention and r.candidates and predicted[0] == case.item:
                found, total = _mentions(kb, case.item, r.candidates[0].situation, case.must_mention)
                mention_found += found
                mention_total += total
            elif case.must_mention:
                mention_total += len(case.must_mention)
        if r.abstain:
            abstained_total += 1
            abstained_right += case.item is None
        hits += hit
        by_style[case.style].append(hit)
        results.append(
            {
                "q": case.q,
                "expected": case.item,
                "predicted": predicted,
                "abstained": r.abstain,
                "confidence": round(r.confidence, 3),
            }
        )
    lat = sorted(latencies)
    n = len(cases)
    return {
        "n": n,
        "hit_at_1": _ratio(hits, n),
        "hit_at_3": _ratio(hit3, n),
        "mrr": _ratio(rr, n),
        "abstain_precision": _ratio(abstained_right, abstained_total),
        "abstain_recall": _ratio(abstained_right, oos),
        "false_abstain_rate": _ratio(false_abstain, in_scope),
        "must_mention_recall": _ratio(mention_found, mention_total),
        "by_style": {k: {"n": len(v), "hit_at_1": _ratio(sum(v), len(v))} for k, v in sorted(by_style.items())},
        "latency_ms_p50": round(statistics.median(lat), 1) if lat else 0.0,
        "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else 0.0,
        "results": results,
    }


def report(kb: KnowledgeBase, cases: list[Case], parts: list[str] | None = None) -> dict[str, Any]:
    """The hybrid metrics at the top level, each retriever under by_retriever (without results)."""
    parts = parts or list(PARTS)
    by_retriever = {}
    for part in parts:
        lexical, dense, classifier = PARTS[part]
        metrics = evaluate(kb, cases, lexical=lexical, dense=dense, classifier=classifier)
        by_retriever[part] = metrics
    main = by_retriever.get("hybrid") or next(iter(by_retriever.values()))
    out = {k: v for k, v in main.items()}
    out["by_retriever"] = {p: {k: v for k, v in m.items() if k != "results"} for p, m in by_retriever.items()}
    out["embedder"] = kb.index.manifest.embedder
    out["abstain_threshold"] = kb.retriever.config.abstain_threshold
    return out


def summary(rep: dict[str, Any]) -> str:
    lines = [f"embedder={rep['embedder']} n={rep['n']} abstain_threshold={rep['abstain_threshold']}"]
    for part, m in rep["by_retriever"].items():
        lines.append(
            f"{part:8s} hit@1={m['hit_at_1']:.3f} hit@3={m['hit_at_3']:.3f} mrr={m['mrr']:.3f} "
            f"abstain P/R={m['abstain_precision']:.2f}/{m['abstain_recall']:.2f} "
            f"false_abstain={m['false_abstain_rate']:.3f} must_mention={m['must_mention_recall']:.3f} "
            f"p50={m['latency_ms_p50']}ms p95={m['latency_ms_p95']}ms"
        )
    return "\n".join(lines)


def write_json(rep: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rep, ensure_ascii=False, indent=2), encoding="utf-8")
