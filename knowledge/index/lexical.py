"""The lexical side of the index: BM25 (bm25s) over the entries' saved token ids.

Follows the components' contract: settings in ``__init__``, ``warm_up()`` loads the
heavy part, ``search()`` does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from knowledge.index.tokenizer import TokenizedCorpus, Tokenizer


class _DocIds:
    """Token ids per document, made on the fly for bm25s (which reads them a few times)."""

    def __init__(self, corpus: TokenizedCorpus, empty: int) -> None:
        self.corpus = corpus
        self.empty = empty

    def __len__(self) -> int:
        return len(self.corpus)

    def __iter__(self) -> Iterator[list[int]]:
        return self.corpus.doc_ids(self.empty)


class LexicalRetriever:
    """BM25 over the tokenised entries (bm25s)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self._bm25: Any = None
        self.corpus: TokenizedCorpus | None = None
        self.size = 0

    def warm_up(self, corpus: TokenizedCorpus) -> None:
        """Index the entries' saved token ids (an entry without tokens gets the token "_")."""
        import types

        import bm25s

        self.tokenizer.warm_up()
        vocab = dict(corpus.lookup)
        empty = vocab.setdefault("_", len(vocab)) if np.any(np.diff(corpus.offsets) == 0) else -1
        bm25 = bm25s.BM25(k1=1.2, b=0.6)
        # bm25s takes "an object with ids and vocab": ids are read document by document.
        bm25.index(types.SimpleNamespace(ids=_DocIds(corpus, empty), vocab=vocab), show_progress=False)
        self._bm25 = bm25
        self.corpus = corpus
        self.size = len(corpus)

    def search(self, normalized: str, top_k: int = 50) -> list[tuple[int, float]]:
        if self._bm25 is None:
            raise RuntimeError("LexicalRetriever.warm_up() was not called")
        tokens = [t for t in self.tokenizer(normalized) if t in self._bm25.vocab_dict]
        if not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        top = np.argsort(-scores)[:top_k]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
