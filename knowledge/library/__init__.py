"""The guide library: load and validate guides, halls, door plates, catalogue and asks.

``model`` holds the loaded ``Library``; ``loaders`` read one kind of file each;
``checks`` has one function per rule and runs them (``check_library``,
``check_guide_text``, ``load_library``); ``problems`` turns what is wrong into
problems with file:line and a hint. Bad content never raises a traceback: callers get a
ContentError with the full list.
"""

from __future__ import annotations

from knowledge.library.checks import check_guide_text, check_library, load_library
from knowledge.library.loaders import content_hash, guide_from_text
from knowledge.library.model import (
    ALIASES_FILE,
    ASKS_DIR,
    CATALOGUE_FILE,
    GUIDE_BATCH,
    GUIDES_SUBDIR,
    HALLS_FILE,
    LOOKUPS_FILE,
    OUT_OF_SCOPE_FILE,
    PLATES_FILE,
    REFERRALS_DIR,
    AskRecord,
    Library,
    guide_path,
)
from knowledge.schema import HallLevel

__all__ = [
    "ALIASES_FILE",
    "ASKS_DIR",
    "CATALOGUE_FILE",
    "GUIDES_SUBDIR",
    "GUIDE_BATCH",
    "HALLS_FILE",
    "LOOKUPS_FILE",
    "OUT_OF_SCOPE_FILE",
    "PLATES_FILE",
    "REFERRALS_DIR",
    "AskRecord",
    "HallLevel",
    "Library",
    "check_guide_text",
    "check_library",
    "content_hash",
    "guide_from_text",
    "guide_path",
    "load_library",
]
