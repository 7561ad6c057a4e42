"""The semantic index: entries built from the guides, a lexical side and a dense side.

Components follow one contract (haystack style): settings in ``__init__``,
``warm_up()`` loads heavy things, ``search()`` does no I/O. The modules, bottom up:
``entries`` (what can match), ``tokenizer`` (the lexical units), ``lexical`` (BM25),
``dense`` (embedder + faiss), ``training`` (the domain embedders), ``files`` (the index
on disk, loading) and ``build`` (the build pipeline over them). This package never
imports retrieval: building *and calibrating* an index is ``knowledge.pipeline``.
"""

from __future__ import annotations

from knowledge.index.build import Calibrator, build_index_files, calibrate_index_files
from knowledge.index.dense import (
    STATIC_MARKER,
    DenseRetriever,
    dense_retriever,
    load_embedder,
    packaged_base_model,
)
from knowledge.index.entries import (
    LOOKUP_PREFIX,
    NOT_A_GUIDE,
    OOS_PREFIX,
    REFERRAL_PREFIX,
    Entry,
    EntryKind,
    build_entries,
)
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
    load_index,
    load_index_files,
    read_manifest,
)
from knowledge.index.lexical import LexicalRetriever
from knowledge.index.tokenizer import STOPWORDS, TokenizedCorpus, Tokenizer, token_stream, user_dictionary
from knowledge.index.training import train_domain_model, train_static_model, training_pairs

__all__ = [
    "CALIBRATION",
    "DENSE",
    "DOMAIN_MODEL_DIR",
    "ENTRIES",
    "FORMAT_VERSION",
    "LOOKUP_PREFIX",
    "MANIFEST",
    "NOT_A_GUIDE",
    "OOS_PREFIX",
    "REFERRAL_PREFIX",
    "STATIC_MARKER",
    "STOPWORDS",
    "TOKENS",
    "USER_DICT",
    "Calibrator",
    "DenseRetriever",
    "Entry",
    "EntryKind",
    "Index",
    "LexicalRetriever",
    "Manifest",
    "TokenizedCorpus",
    "Tokenizer",
    "build_entries",
    "build_index_files",
    "calibrate_index_files",
    "dense_retriever",
    "load_embedder",
    "load_index",
    "load_index_files",
    "packaged_base_model",
    "read_manifest",
    "token_stream",
    "train_domain_model",
    "train_static_model",
    "training_pairs",
    "user_dictionary",
]
