"""Build then calibrate: the step above both the index and retrieval.

The index layer builds and loads an index without knowing how its confidence is
calibrated; the calibration is fitted by running the retriever over the built index.
This module joins the two, so that neither imports the other: ``build_index`` and
``calibrate_index`` are what the CLI, the service and cross-validation call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge.index.build import build_index_files, calibrate_index_files
from knowledge.index.files import Index, Manifest
from knowledge.library import Library
from knowledge.retrieval.calibration import fit_calibration
from knowledge.retrieval.retriever import Retriever
from knowledge.settings import DOMAIN_EMBEDDER, FaissKind


def fit_retriever_calibration(index: Index, lib: Library) -> dict[str, Any]:
    """The calibrator of a built index: the default retriever's confidence, fitted on the guides."""
    return fit_calibration(index, lib, Retriever(index))


def build_index(
    lib: Library,
    out: Path,
    embedder: str = DOMAIN_EMBEDDER,
    base_model: str = "",
    kind: FaissKind = FaissKind.FLAT,
    epochs: int | None = None,
    calibrate: bool = True,
) -> Manifest:
    """Build the index under ``out`` (see ``build_index_files``), calibrated unless told not to."""
    calibrator = fit_retriever_calibration if calibrate else None
    return build_index_files(lib, out, embedder, base_model, kind, epochs, calibrator=calibrator)


def calibrate_index(out: Path, lib: Library, manifest: Manifest) -> dict[str, Any]:
    """Fit the confidence calibration for the index under ``out`` and save it there."""
    return calibrate_index_files(out, lib, manifest, fit_retriever_calibration)
