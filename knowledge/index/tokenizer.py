"""The lexical units of the index: jieba words (with the guides' user dictionary) plus
CJK character bigrams, and the entries' tokens saved once at build (``TokenizedCorpus``).

The lexical side, the static domain model and the retriever's per-item vocabularies
all read tokens made here, so they see the same units.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.library import Library

CACHED_TEXTS = 1024  # recent texts whose cut is kept (a turn reads its question several times)
_CJK = re.compile(r"[\u4e00-\u9fff]+")
_LATIN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "么",
        "我",
        "你",
        "他",
        "她",
        "们",
        "是",
        "在",
        "有",
        "和",
        "就",
        "都",
        "也",
        "要",
        "想",
        "请问",
        "请",
        "问",
        "一下",
        "怎么",
        "什么",
        "怎么办",
        "如何",
        "哪些",
        "需要",
        "需要带",
        "带",
        "办",
        "办理",
        "能",
        "可以",
        "还",
        "这个",
        "那个",
        "个",
        "去",
        "给",
        "把",
        "到",
        "上",
        "下",
        "the",
        "a",
        "an",
        "to",
        "of",
        "for",
        "and",
        "i",
        "my",
        "is",
        "do",
        "what",
        "how",
        "can",
    ]
)


def user_dictionary(lib: Library) -> list[str]:
    """Words jieba must keep whole: item names, material names, hall towns."""
    words: set[str] = set()
    for code, guide in lib.guides.items():
        cat = lib.catalogue.get(code)
        for text in [guide.title, cat.name if cat else ""]:
            words.update(w for w in re.split(r"[（）()、，,\s]+", text) if 2 <= len(w) <= 12)
        for s in guide.situations:
            for m in s.materials:
                words.update(w for w in re.split(r"[（）()、，,\s]+", m.name) if 2 <= len(w) <= 12)
    words.update(lib.normalizer.aliases.values())
    return sorted(w for w in words if _CJK.fullmatch(w))


@functools.lru_cache(maxsize=4)
def _jieba_with(user_words: tuple[str, ...]) -> Any:
    """A jieba tokenizer with these user words, one per process: its dictionary takes ~75 MB,
    and the build, the calibration and the served index all use the same words."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    for w in user_words:
        tok.add_word(w, freq=20000)
    return tok


class Tokenizer:
    """jieba words (with the guides' user dictionary) plus CJK character bigrams.

    Bigrams make the lexical side robust to typos and to jieba cutting a
    colloquial phrase differently from the guide's wording.
    """

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self.user_words = list(user_words)
        self._jieba: Any = None
        # One question is read by several parts of a turn (lexical, dense, coverage, situation,
        # follow-up checks): each text is cut once. Callers get their own list.
        self._words = functools.lru_cache(maxsize=CACHED_TEXTS)(self._cut_words)
        self._tokens = functools.lru_cache(maxsize=CACHED_TEXTS)(self._cut_tokens)

    def warm_up(self) -> None:
        if self._jieba is None:
            self._jieba = _jieba_with(tuple(self.user_words))

    def words(self, normalized: str) -> list[str]:
        """jieba words (search mode: compounds and their parts), no bigrams, no stopwords."""
        return list(self._words(normalized))

    def __call__(self, normalized: str) -> list[str]:
        """The words, then the CJK character bigrams."""
        return list(self._tokens(normalized))

    def _cut_words(self, normalized: str) -> tuple[str, ...]:
        if self._jieba is None:
            self.warm_up()
        return tuple(
            w
            for w in (w.strip() for w in self._jieba.cut_for_search(normalized))
            if w and w not in STOPWORDS and (_CJK.search(w) or _LATIN.fullmatch(w))
        )

    def _cut_tokens(self, normalized: str) -> tuple[str, ...]:
        tokens = list(self._words(normalized))
        for run in _CJK.findall(normalized):
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        return tuple(tokens)


class TokenizedCorpus:
    """Every entry's ``Tokenizer`` output, as ids into one vocabulary.

    The entries are tokenised once, at build, and the result is saved with the index: the
    static model's vocabulary, the dense encoding, BM25 and the retriever's per-item
    vocabularies all read it instead of tokenising again. Tokens are held as one flat int32
    array plus offsets (4 bytes a token) rather than lists of Python strings (~80 bytes a
    token; the 10,000-item corpus has 8.5 million tokens).
    """

    def __init__(self, vocab: list[str], ids: np.ndarray, offsets: np.ndarray) -> None:
        self.vocab = vocab  # id → token, in order of first occurrence
        self.ids = ids
        self.offsets = offsets  # entry i has ids[offsets[i]:offsets[i + 1]]
        self.lookup = {t: i for i, t in enumerate(vocab)}

    @classmethod
    def build(cls, tokenizer: Tokenizer, texts: Iterable[str]) -> TokenizedCorpus:
        """Tokenise normalised texts one at a time (no list of all tokens is ever held)."""
        lookup: dict[str, int] = {}
        ids = array("i")
        offsets = array("q", [0])
        for text in texts:
            ids.extend(lookup.setdefault(t, len(lookup)) for t in tokenizer(text))
            offsets.append(len(ids))
        return cls(
            list(lookup),
            np.frombuffer(ids, dtype=np.int32) if ids else np.zeros(0, np.int32),
            np.frombuffer(offsets, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def tokens(self, i: int) -> list[str]:
        return [self.vocab[t] for t in self.ids[self.offsets[i] : self.offsets[i + 1]].tolist()]

    def stream(self, i: int) -> str:
        """What ``token_stream`` gives for entry i: the static model's input."""
        return " ".join(self.tokens(i)) or "[UNK]"

    def doc_ids(self, empty: int) -> Iterator[list[int]]:
        """Each entry's token ids as a list, ``[empty]`` for an entry without tokens."""
        bounds = self.offsets.tolist()
        for start, end in itertools.pairwise(bounds):
            yield self.ids[start:end].tolist() if end > start else [empty]

    def unique_ids(self, entries: Sequence[int]) -> np.ndarray:
        """Sorted distinct token ids of some entries."""
        parts = [self.ids[self.offsets[i] : self.offsets[i + 1]] for i in entries]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int32)

    def save(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(fh, vocab=np.asarray(self.vocab, dtype=str), ids=self.ids, offsets=self.offsets)

    @classmethod
    def load(cls, path: Path) -> TokenizedCorpus:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["vocab"].tolist(), data["ids"], data["offsets"])


def token_stream(tok: Tokenizer, normalized: str) -> str:
    return " ".join(tok(normalized)) or "[UNK]"
