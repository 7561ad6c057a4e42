"""Our asks, referrals and look-ups are written apart from the public eval sets: none may copy them.

The public dev questions and dialogues are for checking only. An ask that is
(nearly) a dev question would make the dev numbers measure memory, not retrieval.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.library import Library

SHARED = Path(__file__).resolve().parents[3] / "shared" / "eval"
NEAR = 0.7  # character-bigram Jaccard similarity at which two questions count as copies


def _bigrams(text: str) -> set[str]:
    t = "".join(ch for ch in text.lower() if ch.isalnum())
    return {t[i : i + 2] for i in range(len(t) - 1)} or {t}


def _eval_lines() -> list[str]:
    lines: list[str] = []
    dev = SHARED / "dev.yaml"
    if dev.exists():
        lines += [r["q"] for r in yaml.safe_load(dev.read_text(encoding="utf-8")) or []]
    dialogues = SHARED / "dialogues.yaml"
    if dialogues.exists():
        for d in yaml.safe_load(dialogues.read_text(encoding="utf-8")) or []:
            lines += [t["say"] for t in d.get("turns") or [] if "say" in t]
    return lines


def test_no_ask_copies_a_public_eval_question(library: Library) -> None:
    evals = [(q, _bigrams(q)) for q in _eval_lines()]
    if not evals:
        pytest.fail(f"the public eval sets are missing under {SHARED}")
    ours = [a.q for a in library.asks]
    ours += [a.q for a in library.faq_asks]
    ours += [q for r in library.referrals.values() for q in r.asks]
    ours += [q for x in library.lookups.values() for q in x.asks]
    copies = []
    for ask in ours:
        grams = _bigrams(ask)
        for q, qg in evals:
            if len(grams | qg) and len(grams & qg) / len(grams | qg) >= NEAR and len(ask) > 4:
                copies.append((ask, q))
    assert not copies, copies[:20]
