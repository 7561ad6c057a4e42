"""Training the domain embedders from the guides alone (never from evaluation data).

``train_static_model`` learns static embeddings over the tokenizer's units in seconds;
``train_domain_model`` fine-tunes the packaged MiniLM (minutes). Both learn from the
(question, item description) pairs of ``training_pairs`` with in-batch negatives.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.index.dense import STATIC_MARKER
from knowledge.index.entries import build_entries
from knowledge.index.tokenizer import TokenizedCorpus, Tokenizer, token_stream, user_dictionary
from knowledge.library import Library

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


def training_pairs(lib: Library, prepare: Callable[[str], str]) -> list[tuple[str, str]]:
    """(question, item description) pairs from the guides' own asks (every writer batch),
    questions and situations, and what has no guide (out-of-scope topics, referrals,
    look-ups). Nothing from an evaluation set."""
    norm = lib.normalizer
    pairs: list[tuple[str, str]] = []
    for code, guide in sorted(lib.guides.items()):
        cat = lib.catalogue.get(code)
        anchor = prepare(norm(f"{guide.title} {cat.name if cat else ''} {cat.scope if cat else ''}"))
        asks = [a.q for a in lib.asks_of(code)] or list(guide.asks)
        queries = [*asks, *(f.q for f in guide.faqs)]
        queries += [f"{s.name} {s.when}" for s in guide.situations]
        pairs += [(prepare(norm(q)), anchor) for q in queries]
    others: list[tuple[str, list[str]]] = [
        *((f"{t.name} {t.refer}", t.asks) for t in lib.out_of_scope.values()),
        *((f"{r.name} {r.what}", r.asks) for r in lib.referrals.values()),
        *((f"{x.name} {x.what}", x.asks) for x in lib.lookups.values()),
    ]
    for text, asks in others:
        anchor = prepare(norm(text))
        pairs += [(prepare(norm(q)), anchor) for q in asks]
    return pairs


def _train(
    model: SentenceTransformer, pairs: list[tuple[str, str]], epochs: int, lr: float, seed: int, *, sparse: bool = False
) -> None:
    """MultipleNegativesRankingLoss written out: every other anchor in the batch is a negative.

    A plain loop keeps the dependency set small (no datasets/accelerate).
    """
    import random

    import torch

    rng = random.Random(seed)
    torch.manual_seed(seed)
    pairs = list(pairs)
    # A static embedding's table is large and each batch touches a few rows of it: sparse
    # gradients and a lazy Adam update only those rows (a dense AdamW step walked the whole
    # table every step, which made the build grow with the vocabulary).
    optimizer: torch.optim.Optimizer = (
        torch.optim.SparseAdam(list(model.parameters()), lr=lr)
        if sparse
        else torch.optim.AdamW(model.parameters(), lr=lr)
    )
    batch_size = 32
    steps = epochs * ((len(pairs) + batch_size - 1) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / 10) * max(0.0, 1 - step / max(1, steps))
    )
    model.train()

    def embed(texts: list[str]) -> torch.Tensor:
        out = model(model.tokenize(texts))["sentence_embedding"]
        return torch.nn.functional.normalize(out, dim=-1)

    for _ in range(epochs):
        rng.shuffle(pairs)
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start : start + batch_size]
            # Several asks of one item in a batch share an anchor: mask those as non-negatives.
            anchors = sorted({a for _, a in batch})
            target = torch.tensor([anchors.index(a) for _, a in batch])
            scores = embed([q for q, _ in batch]) @ embed(anchors).T * 20.0
            loss = torch.nn.functional.cross_entropy(scores, target)
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
    model.eval()


def train_static_model(
    lib: Library,
    out_dir: Path,
    epochs: int = 8,
    dim: int = 256,
    seed: int = 13,
    *,
    tokenizer: Tokenizer | None = None,
    corpus: TokenizedCorpus | None = None,
) -> Path:
    """A static-embedding model (sentence-transformers StaticEmbedding) over the guides' own
    words and character bigrams, trained in seconds with in-batch negatives.

    Its input is the token stream of ``Tokenizer`` (space separated), so it sees exactly
    the units the lexical side sees, but learns which of them mean the same thing. Pass the
    index's tokenizer and tokenised entries to not tokenise them again.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    started = time.perf_counter()
    tok = tokenizer or Tokenizer(user_dictionary(lib))
    pairs = training_pairs(lib, lambda t: token_stream(tok, t))
    if corpus is None:
        corpus = TokenizedCorpus.build(tok, (lib.normalizer(e.text) for e in build_entries(lib)))
    vocab: dict[str, int] = {"[UNK]": 0, "[PAD]": 1}
    # The entries' tokens in order of first occurrence, then the pairs': the same ids as
    # reading every entry's token stream in turn.
    for stream in itertools.chain(corpus.vocab, (q for q, _ in pairs), (a for _, a in pairs)):
        for t in stream.split():
            vocab.setdefault(t, len(vocab))
    hf = HFTokenizer(WordLevel(vocab, unk_token="[UNK]"))
    hf.pre_tokenizer = WhitespaceSplit()
    torch.manual_seed(seed)
    weights = torch.randn(len(vocab), dim) * 0.1
    weights[0] = 0.0
    static = StaticEmbedding(hf, embedding_weights=weights)
    static.embedding.sparse = True
    model = SentenceTransformer(modules=[static], device="cpu")
    # Tiny ops on a big table: one thread is several times faster than two fighting for a core.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train(model, pairs, epochs, lr=0.05, seed=seed, sparse=True)
    finally:
        torch.set_num_threads(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    (out_dir / STATIC_MARKER).write_text("token-stream\n", encoding="utf-8")
    logger.info(
        "static domain model: %d tokens, %d pairs, %.1fs", len(vocab), len(pairs), time.perf_counter() - started
    )
    return out_dir


def train_domain_model(
    lib: Library, base: str, out_dir: Path, epochs: int = 4, seed: int = 13, lr: float = 1e-4
) -> Path:
    """Fine-tune the base transformer (MiniLM) on the guides' own asks and questions."""
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model = SentenceTransformer(base, device="cpu")
    model.max_seq_length = 64
    added = _add_cjk_tokens(model, lib)
    pairs = training_pairs(lib, lambda t: t)
    _train(model, pairs, epochs, lr, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    logger.info(
        "MiniLM domain model trained on %d pairs (%d CJK tokens added) in %.1fs",
        len(pairs),
        added,
        time.perf_counter() - started,
    )
    return out_dir


def _add_cjk_tokens(model: SentenceTransformer, lib: Library) -> int:
    """Give every CJK character of the guides its own token.

    The packaged MiniLM's WordPiece vocabulary holds only ~240 CJK characters, so
    most Chinese text becomes [UNK]. New rows start at the mean embedding and are
    learned during the domain training.
    """
    import torch

    tokenizer = model.tokenizer
    vocab = tokenizer.get_vocab()
    text = " ".join(
        " ".join([g.title, g.summary, *g.asks, *(f.q for f in g.faqs), *(s.name + s.when for s in g.situations)])
        for g in lib.guides.values()
    ) + " ".join(lib.normalizer.aliases.values())
    chars = sorted({c for c in lib.normalizer(text) if "\u4e00" <= c <= "\u9fff" and c not in vocab})
    if not chars:
        return 0
    tokenizer.add_tokens(chars)
    transformer: Any = model[0].auto_model
    old = transformer.get_input_embeddings().weight.data
    mean = old.mean(dim=0, keepdim=True)
    transformer.resize_token_embeddings(len(tokenizer))
    with torch.no_grad():
        transformer.get_input_embeddings().weight.data[old.shape[0] :] = mean
    return len(chars)
