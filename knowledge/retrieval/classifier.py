"""An item classifier over every entry's words: multinomial naive Bayes, one class per item.

The lexical and dense sides match a question against single entries (an ask, a situation,
a common question) and an item scores by its best few. Pooled over all of an item's entries
the words tell items apart differently: a word that many of one item's asks use (走了 for a
death, 租房 for a rent withdrawal) counts even when no single ask shares much else with the
question. The classifier ranks items by the naive Bayes log-likelihood of the question's
tokens, each token counted once per entry that has it, with add-``alpha`` smoothing; it is a
third ranking fused into the item scores (``RetrieverConfig.classifier_weight``).

Built from the index's tokenised corpus in the retriever's constructor (no I/O, no training
step, a fraction of a second for the shipped guides); numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from knowledge.index.tokenizer import TokenizedCorpus


class ItemClassifier:
    """Naive Bayes over items, from the entries ``entries`` of a tokenised corpus."""

    def __init__(
        self, corpus: TokenizedCorpus, entry_items: Sequence[str], entries: Iterable[int], alpha: float = 0.1
    ) -> None:
        self.items = sorted(set(entry_items))
        column = {item: n for n, item in enumerate(self.items)}
        vocab = len(corpus.vocab)
        keys: list[np.ndarray] = []
        for i in entries:
            ids = np.unique(corpus.ids[corpus.offsets[i] : corpus.offsets[i + 1]])
            if len(ids):
                keys.append(ids.astype(np.int64) * len(self.items) + column[entry_items[i]])
        pairs, counts = np.unique(np.concatenate(keys) if keys else np.zeros(0, np.int64), return_counts=True)
        tokens, classes = pairs // len(self.items), pairs % len(self.items)
        # Each token's slice of (class, count) pairs: pairs are sorted by token first.
        self._start = np.searchsorted(tokens, np.arange(vocab + 1)).astype(np.int64)
        self._classes = classes.astype(np.int32)
        self._gain = np.log((counts + alpha) / alpha).astype(np.float32)  # over an unseen token
        totals = np.bincount(classes, weights=counts, minlength=len(self.items))
        self._log_norm = np.log(totals + alpha * vocab).astype(np.float32)
        self._log_alpha = float(np.log(alpha))
        self._vocab = vocab

    def known(self, token_ids: Sequence[int]) -> list[int]:
        """The distinct token ids the classifier knows, in order."""
        return [t for t in dict.fromkeys(token_ids) if 0 <= t < self._vocab]

    def scores(self, token_ids: Sequence[int]) -> np.ndarray:
        """Log-likelihood of the tokens under each item (``self.items`` order)."""
        ids = self.known(token_ids)
        out = np.full(len(self.items), len(ids) * self._log_alpha, dtype=np.float32) - len(ids) * self._log_norm
        for t in ids:
            a, b = self._start[t], self._start[t + 1]
            np.add.at(out, self._classes[a:b], self._gain[a:b])
        return out

    def rank(self, token_ids: Sequence[int], k: int) -> list[tuple[str, float]]:
        """The ``k`` most likely items, best first (nothing when no token is known)."""
        if not self.items or not self.known(token_ids):
            return []
        s = self.scores(token_ids)
        top = np.argsort(-s, kind="stable")[:k]
        return [(self.items[n], float(s[n])) for n in top]
