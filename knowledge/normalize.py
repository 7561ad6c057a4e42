"""Text normalising: traditional→simplified, full-width→half-width, aliases and typos.

The alias table is content (guides/aliases.yaml) so editors extend it without code.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_LATIN = re.compile(r"[a-z]")
# Keep CJK, latin letters and digits; everything else becomes a space.
_NOT_WORD = re.compile(r"[^\w\u4e00-\u9fff]+", re.UNICODE)


def inflections(key: str) -> list[str]:
    """The forms residents write of a glossary key's last word: notarize → notarized, notarizes,
    notarizing; apply → applied, applies; child → childs is harmless (no such word is typed).
    Keys of pinyin or of two letters are left as they are ("id" must not become "ids" → 身份证 twice)."""
    head, _, last = key.rpartition(" ")
    if len(last) < 4 or not last.isalpha() or not last.isascii():
        return []
    prefix = f"{head} " if head else ""
    if last.endswith("e"):
        forms = [last + "s", last + "d", last[:-1] + "ing"]
    elif last.endswith("y") and last[-2] not in "aeiou":
        forms = [last[:-1] + "ies", last[:-1] + "ied", last + "ing"]
    elif last.endswith(("s", "x", "ch", "sh")):
        forms = [last + "es", last + "ed", last + "ing"]
    else:
        forms = [last + "s", last + "ed", last + "ing"]
    return [prefix + f for f in forms]


class Normalizer:
    """Turns what a resident typed into the form the index was built from.

    Args:
        aliases: wrong → right replacements applied after script conversion.
    """

    def __init__(self, aliases: Mapping[str, str] | None = None, english: Mapping[str, str] | None = None) -> None:
        self.aliases = {self._basic(k): v for k, v in (aliases or {}).items()}
        # Longest first so "身分证号" style entries win over their prefixes.
        keys = sorted(self.aliases, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(k) for k in keys)) if keys else None
        # English words → the guides' words, added after them; whole words only ("rent" is
        # not in "parents").
        self.english = {self._basic(k): v for k, v in (english or {}).items()}
        for key, value in list(self.english.items()):
            for form in inflections(key):
                self.english.setdefault(form, value)
        words = sorted(self.english, key=len, reverse=True)
        self._english = (
            re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(w) for w in words) + r")(?![a-z0-9])") if words else None
        )
        self._converter: Any = None
        self._keys: dict[str, str] = {}  # content is checked again on every editor's check

    @classmethod
    def from_file(cls, path: Path) -> Normalizer:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        table = data.get("replace") or {}
        english = data.get("english") or {}
        return cls({str(k): str(v) for k, v in table.items()}, {str(k): str(v) for k, v in english.items()})

    def _t2s(self, text: str) -> str:
        if self._converter is None:
            import opencc

            self._converter = opencc.OpenCC("t2s")
        return str(self._converter.convert(text))

    @staticmethod
    def _basic(text: str) -> str:
        return unicodedata.normalize("NFKC", text).lower()

    def __call__(self, text: str) -> str:
        """Normalise text for matching; keeps spaces between latin words."""
        text = self._t2s(self._basic(text))
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self.aliases[m.group(0)], text)
        if self._english is not None and _LATIN.search(text):
            text = self._english.sub(lambda m: f"{m.group(0)} {self.english[m.group(0)]} ", text)
        text = _NOT_WORD.sub(" ", text)
        return _SPACES.sub(" ", text).strip()

    def key(self, text: str) -> str:
        """A compact key for duplicate detection: normalised, no spaces."""
        key = self._keys.get(text)
        if key is None:
            if len(self._keys) > 100_000:
                self._keys.clear()
            key = self._keys[text] = self(text).replace(" ", "")
        return key
