"""The index on disk: its file names, the manifest, and loading a built index.

The on-disk format (``FORMAT_VERSION``) is read here and written by ``build``; a
stale index (built from other guides) is refused, and a dense side that cannot load
degrades to lexical only unless told to fail.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.errors import IndexMissing, StaleIndex
from knowledge.index.dense import DenseRetriever, dense_retriever
from knowledge.index.entries import Entry
from knowledge.index.lexical import LexicalRetriever
from knowledge.index.tokenizer import TokenizedCorpus, Tokenizer
from knowledge.library import Library
from knowledge.normalize import Normalizer
from knowledge.settings import FaissKind

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
ENTRIES = "entries.jsonl"
DENSE = "dense.faiss"
USER_DICT = "userdict.txt"
CALIBRATION = "calibration.json"
TOKENS = "tokens.npz"
DOMAIN_MODEL_DIR = "domain-model"
FORMAT_VERSION = 3  # 3: the entries' lexical tokens are saved (tokens.npz)


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
