"""Which common question (FAQ) a follow-up asks, in the resident's words or in other words.

A follow-up with no aspect word ("补好之前还能开车不") used to get the whole card again: the
FAQ's own rare words rarely appear in a resident's question. The loose matcher reads it against
the FAQ and the follow-ups writers labelled with it (guides/faq_asks), with a dense cosine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from knowledge.faq_eval import report
from knowledge.library import check_library
from knowledge.retrieval import Aspect
from knowledge.service import KnowledgeBase
from web.contract import AnswerPayload
from web.render.messages import WEB, WECHAT, render_payload

ROOT = Path(__file__).resolve().parents[2]


def _asked(kb: KnowledgeBase, item: str, q: str, exclude: frozenset[str] = frozenset()) -> str | None:
    faq = kb.faq_for(item, q, exclude)
    return faq.q if faq else None


def test_a_follow_up_in_other_words_gets_the_faq_it_asks(kb: KnowledgeBase) -> None:
    assert _asked(kb, "driving-license-lost", "补好之前俺还能开车不") == "补证期间能开车吗？"
    # Even with every follow-up labelled with that FAQ left out: the words and the dense side.
    labelled = frozenset(a.q for a in kb.library.faq_asks if a.faq == "补证期间能开车吗？")
    assert _asked(kb, "driving-license-lost", "补好之前俺还能开车不", labelled) == "补证期间能开车吗？"


def test_questions_no_faq_answers_get_none(kb: KnowledgeBase) -> None:
    # A field answers the fee; the list is the card; a greeting asks nothing.
    assert _asked(kb, "driving-license-lost", "补一本要交多少钱") is None
    assert _asked(kb, "driving-license-lost", "要带什么") is None
    assert _asked(kb, "driving-license-lost", "好的") is None


def test_the_faq_answer_replaces_the_repeated_card(kb: KnowledgeBase) -> None:
    faq = next(f for f in kb.library.guides["driving-license-lost"].faqs if f.q == "补证期间能开车吗？")
    # The NLU may have read 开 as an hours question: the words ask the FAQ, so its answer leads.
    payload = AnswerPayload(item="driving-license-lost", aspect=Aspect.HOURS, follow_up=True)
    for channel in (WEB, WECHAT):
        msg = render_payload(kb, payload, channel, said="补好之前俺还能开车不", base_url="https://x.org")
        assert (
            msg.text.startswith(faq.a[:20]) and "要带的材料" not in msg.text and "/g/driving-license-lost" in msg.text
        )


def test_the_matcher_measured_by_writer_folds_beats_the_faqs_own_words(kb: KnowledgeBase) -> None:
    rep = report(kb)
    assert rep["shipped"]["labelled"] >= 700 and len(rep["folds"]) == 4
    assert rep["nested"]["recall"] >= rep["strict_only"]["recall"] + 0.3
    assert rep["nested"]["wrong"] <= 0.05 and rep["nested"]["false_match"] <= 0.25


def test_a_label_that_is_not_one_of_the_guides_faqs_is_a_problem(tmp_path: Path) -> None:
    root = tmp_path / "guides"
    shutil.copytree(ROOT / "guides", root)
    path = root / "faq_asks" / "f1" / "driving-license-lost.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("补证期间能开车吗？", "补证期间能开车不？", 1), "utf-8")
    lib, problems = check_library(root)
    assert lib is None
    assert any(
        p.file.endswith("faq_asks/f1/driving-license-lost.yaml") and "补证期间能开车不" in p.message for p in problems
    ), problems


def test_only_a_situations_own_name_changes_it_in_a_follow_up(kb: KnowledgeBase) -> None:
    r = kb.retriever
    assert r.names_situation("id-card-renew", "如果是证件损坏的呢", "damaged")
    assert not r.names_situation("id-card-renew", "要不要自己出钱", "damaged")
    assert not r.names_situation("id-card-renew", "如果是证件损坏的呢", None)
