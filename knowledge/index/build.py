"""Building an index: the pipeline over entries, tokenizer, domain training, dense and files.

``build_index_files`` writes every file of an index in a staging folder and swaps it in
whole. It does not know how confidence is calibrated: a caller above both the index and
retrieval (``knowledge.pipeline``) passes the calibrator, so this layer never imports
retrieval.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from knowledge.index.dense import dense_retriever, packaged_base_model
from knowledge.index.entries import build_entries
from knowledge.index.files import (
    CALIBRATION,
    DENSE,
    DOMAIN_MODEL_DIR,
    ENTRIES,
    FORMAT_VERSION,
    MANIFEST,
    TOKENS,
    USER_DICT,
    Index,
    Manifest,
    load_index_files,
)
from knowledge.index.tokenizer import TokenizedCorpus, Tokenizer, user_dictionary
from knowledge.index.training import train_domain_model, train_static_model
from knowledge.library import Library
from knowledge.settings import DOMAIN_EMBEDDER, DOMAIN_MINILM, FaissKind

logger = logging.getLogger(__name__)

# Fits the confidence calibration of a loaded index (knowledge.retrieval.calibration.fit_calibration).
Calibrator = Callable[[Index, Library], dict[str, Any]]


def build_index_files(
    lib: Library,
    out: Path,
    embedder: str = DOMAIN_EMBEDDER,
    base_model: str = "",
    kind: FaissKind = FaissKind.FLAT,
    epochs: int | None = None,
    calibrator: Calibrator | None = None,
) -> Manifest:
    """Build entries, the domain model when asked, the faiss index and the manifest.

    The index is built in a staging folder beside ``out`` and swapped in whole at the
    end, so a web process (or a second build) never reads a half-written index. With a
    ``calibrator`` the confidence calibration is fitted before the swap.
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
    if calibrator is not None:
        calibrate_index_files(out, lib, manifest, calibrator)
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


def calibrate_index_files(out: Path, lib: Library, manifest: Manifest, calibrator: Calibrator) -> dict[str, Any]:
    """Fit the confidence calibration for the index under ``out`` and save it there."""
    (out / CALIBRATION).unlink(missing_ok=True)
    calibration = calibrator(load_index_files(out, lib, manifest), lib)
    (out / CALIBRATION).write_text(json.dumps(calibration, indent=2), encoding="utf-8")
    return calibration
