"""The item classifier: naive Bayes over items, pooled over every entry of an item."""

from __future__ import annotations

import math

import numpy as np
import pytest

from knowledge.index.tokenizer import TokenizedCorpus
from knowledge.retrieval.classifier import ItemClassifier

pytestmark = pytest.mark.unit


class Words:
    """A whitespace tokenizer: the corpus needs only a callable."""

    def __call__(self, text: str) -> list[str]:
        return text.split()


def _classifier(rows: list[tuple[str, str]], alpha: float = 0.1) -> tuple[ItemClassifier, TokenizedCorpus]:
    corpus = TokenizedCorpus.build(Words(), [text for _, text in rows])  # type: ignore[arg-type]
    items = [item for item, _ in rows]
    return ItemClassifier(corpus, items, range(len(rows)), alpha=alpha), corpus


def _ids(corpus: TokenizedCorpus, text: str) -> list[int]:
    return [corpus.lookup[t] for t in text.split() if t in corpus.lookup]


def test_a_word_many_entries_of_one_item_share_ranks_it_first() -> None:
    clf, corpus = _classifier(
        [
            ("death", "走了 手续"),
            ("death", "走了 户口"),
            ("death", "去世 注销"),
            ("rent", "租房 提取"),
            ("rent", "手续 提取"),
        ]
    )
    ranked = clf.rank(_ids(corpus, "走了 手续"), 5)
    assert [item for item, _ in ranked] == ["death", "rent"]


def test_scores_are_the_smoothed_log_likelihood() -> None:
    clf, corpus = _classifier([("a", "x y"), ("b", "y z")], alpha=1.0)
    s = clf.scores(_ids(corpus, "x"))
    vocab = 3
    # item a: x seen once of 2 tokens; item b: x unseen of 2 tokens
    assert s[clf.items.index("a")] == pytest.approx(math.log((1 + 1) / (2 + vocab)))
    assert s[clf.items.index("b")] == pytest.approx(math.log((0 + 1) / (2 + vocab)))


def test_a_token_counts_once_per_entry_and_once_per_question() -> None:
    once, corpus = _classifier([("a", "x x x"), ("b", "x")])
    s = once.scores(_ids(corpus, "x x"))
    assert s[0] == pytest.approx(s[1])  # both items: one entry with x, one token in all
    assert np.all(np.isfinite(s))


def test_nothing_known_ranks_nothing() -> None:
    clf, _ = _classifier([("a", "x")])
    assert clf.rank([], 3) == []
