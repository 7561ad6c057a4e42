"""Evaluation of retrieval on a labelled question set, per retrieval part.

Accuracy counts a question right when the top item is the labelled one, or
when the assistant abstains on a question labelled null (nothing fits).
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


@dataclass(frozen=True)
class Case:
    q: str
    item: str | None
    must_mention: tuple[str, ...] = ()
    style: str = ""


def load_eval_set(path: Path) -> list[Case]:
    rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [Case(r["q"], r.get("item"), tuple(r.get("must_mention") or ()), r.get("style", "")) for r in rows]


def _mentions(kb: KnowledgeBase, item: str, situation: str | None, must: tuple[str, ...]) -> bool:
    answer = build_answer(kb.library, item, situation)
    text = " ".join(f"{c.name} {c.notes}" for c in answer.checklist)
    return all(any(alt in text for alt in group.split("|")) for group in must)


def evaluate(kb: KnowledgeBase, cases: list[Case], *, lexical: bool = True, dense: bool = True) -> dict[str, Any]:
    by_style: dict[str, list[bool]] = defaultdict(list)
    latencies = []
    right = top3 = in_scope = in_right = oos = oos_right = false_abstain = raw_top1 = 0
    mention_total = mention_ok = 0
    misses = []
    for case in cases:
        started = time.perf_counter()
        r = kb.retriever.search(case.q, lexical=lexical, dense=dense)
        latencies.append((time.perf_counter() - started) * 1000)
        top = r.top.item if r.top else None
        ok = top == case.item
        right += ok
        by_style[case.style].append(ok)
        if case.item is None:
            oos += 1
            oos_right += ok
        else:
            in_scope += 1
            in_right += ok
            false_abstain += r.abstain
            top3 += case.item in [c.item for c in r.candidates[:3]]
            raw_top1 += bool(r.candidates) and r.candidates[0].item == case.item
            if case.must_mention and ok and r.top is not None:
                mention_total += 1
                mention_ok += _mentions(kb, case.item, r.top.situation, case.must_mention)
        if not ok:
            misses.append(
                {
                    "q": case.q,
                    "want": case.item,
                    "got": top,
                    "cand": [c.item for c in r.candidates[:3]],
                    "conf": round(r.confidence, 3),
                }
            )
    lat = sorted(latencies)
    return {
        "cases": len(cases),
        "accuracy": round(right / len(cases), 4) if cases else 0.0,
        "in_scope_top1": round(in_right / in_scope, 4) if in_scope else 0.0,
        "in_scope_top3": round(top3 / in_scope, 4) if in_scope else 0.0,
        "in_scope_ranking_top1": round(raw_top1 / in_scope, 4) if in_scope else 0.0,
        "false_abstain_rate": round(false_abstain / in_scope, 4) if in_scope else 0.0,
        "out_of_scope_abstain": round(oos_right / oos, 4) if oos else 0.0,
        "must_mention": f"{mention_ok}/{mention_total}",
        "by_style": {k: round(sum(v) / len(v), 3) for k, v in sorted(by_style.items())},
        "latency_ms_p50": round(statistics.median(lat), 1) if lat else 0.0,
        "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else 0.0,
        "misses": misses,
    }


PARTS = {"lexical": (True, False), "dense": (False, True), "hybrid": (True, True)}


def evaluate_parts(kb: KnowledgeBase, cases: list[Case], parts: list[str]) -> dict[str, Any]:
    report: dict[str, Any] = {"embedder": kb.index.manifest.embedder, "entries": len(kb.index.entries)}
    for part in parts:
        lexical, dense = PARTS[part]
        report[part] = evaluate(kb, cases, lexical=lexical, dense=dense)
    return report


def write_report(report: dict[str, Any], out: Path | None) -> str:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    lines = [f"embedder={report['embedder']} entries={report['entries']}"]
    for part in PARTS:
        if part in report:
            r = report[part]
            lines.append(
                f"{part:8s} acc={r['accuracy']:.3f} top1={r['in_scope_top1']:.3f} rank1={r['in_scope_ranking_top1']:.3f} "
                f"top3={r['in_scope_top3']:.3f} oos_abstain={r['out_of_scope_abstain']:.3f} "
                f"false_abstain={r['false_abstain_rate']:.3f} must_mention={r['must_mention']} "
                f"p50={r['latency_ms_p50']}ms p95={r['latency_ms_p95']}ms"
            )
    return "\n".join(lines)
