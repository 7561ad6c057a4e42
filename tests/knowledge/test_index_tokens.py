"""The entries' tokens are computed once at build and saved: everything that reads them
must see exactly what tokenising the entries again would give."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import pytest

from knowledge.index import (
    TOKENS,
    LexicalRetriever,
    TokenizedCorpus,
    Tokenizer,
    token_stream,
)
from knowledge.service import KnowledgeBase

pytestmark = pytest.mark.integration

TEXTS = ["身份证过期了怎么换", "", "户口迁入 需要 哪些材料", "how much is the fee", "身份证丢了补办身份证"]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(["身份证"])


def test_corpus_holds_each_texts_tokens_and_stream(tokenizer: Tokenizer) -> None:
    corpus = TokenizedCorpus.build(tokenizer, TEXTS)
    assert len(corpus) == len(TEXTS)
    for i, text in enumerate(TEXTS):
        assert corpus.tokens(i) == tokenizer(text)
        assert corpus.stream(i) == token_stream(tokenizer, text)
    assert corpus.ids.dtype == np.int32
    assert corpus.vocab == list(dict.fromkeys(t for text in TEXTS for t in tokenizer(text)))


def test_corpus_survives_save_and_load(tokenizer: Tokenizer, tmp_path: Path) -> None:
    corpus = TokenizedCorpus.build(tokenizer, TEXTS)
    corpus.save(tmp_path / TOKENS)
    loaded = TokenizedCorpus.load(tmp_path / TOKENS)
    assert loaded.vocab == corpus.vocab
    assert [loaded.tokens(i) for i in range(len(loaded))] == [corpus.tokens(i) for i in range(len(corpus))]


def test_bm25_from_token_ids_scores_like_bm25_from_token_lists(tokenizer: Tokenizer) -> None:
    lexical = LexicalRetriever(tokenizer)
    lexical.warm_up(TokenizedCorpus.build(tokenizer, TEXTS))
    reference = bm25s.BM25(k1=1.2, b=0.6)
    reference.index([tokenizer(t) or ["_"] for t in TEXTS], show_progress=False)
    for question in ["身份证怎么补办", "户口材料", "fee", "身份证"]:
        tokens = [t for t in tokenizer(question) if t in reference.vocab_dict]
        expected = np.asarray(reference.get_scores(tokens), dtype=np.float32)
        assert lexical.search(question, 10) == [
            (int(i), float(expected[i])) for i in np.argsort(-expected)[:10] if expected[i] > 0
        ]


def test_saved_tokens_of_the_shipped_index_are_the_entries_tokens(kb: KnowledgeBase) -> None:
    corpus = kb.index.lexical.corpus
    assert corpus is not None and len(corpus) == len(kb.index.entries)
    tokenizer = kb.index.lexical.tokenizer
    for i in range(0, len(kb.index.entries), 7):
        assert corpus.tokens(i) == tokenizer(kb.index.normalizer(kb.index.entries[i].text))


def test_a_cut_is_kept_but_each_caller_gets_its_own_list(tokenizer: Tokenizer) -> None:
    text = "身份证过期了怎么换"
    first = tokenizer(text)
    first.append("不是这句话的词")
    tokenizer.words(text).clear()
    fresh = Tokenizer(["身份证"])  # nothing cut yet
    assert tokenizer(text) == fresh(text) and "不是这句话的词" not in tokenizer(text)
    assert tokenizer.words(text) == fresh.words(text) and tokenizer.words(text)


def test_a_query_vector_from_the_static_weights_is_what_sentence_transformers_gives(kb: KnowledgeBase) -> None:
    dense = kb.index.dense
    assert dense is not None
    texts = [kb.index.normalizer(t) for t in TEXTS] + [
        kb.index.entries[i].text for i in range(0, len(kb.index.entries), 997)
    ]
    for text in texts:
        expected = dense.encode([text])[0]
        got = dense.encode_one(text)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.allclose(got, expected, atol=1e-5), text
