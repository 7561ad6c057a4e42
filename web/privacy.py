"""What is kept of what residents type: Chinese ID and phone numbers are masked before storing
and before the text leaves web (Rasa's tracker keeps every message it is sent, verbatim).

Recognised however they are typed: 18-digit 身份证号 (last character X or x) and the old 15-digit
ones, mobiles with +86 / 0086 / 86 in front, landlines with their area code (0595-8612 3456,
(0595)86123456), with spaces or dashes inside, in full-width digits too.
"""

from __future__ import annotations

import re

_D = "[0-9０-９]"
_D1 = "[1-9１-９]"  # an ID number starts with its province code, never 0
_SEP = "[ \u00a0\u3000\\-－—‐]?"  # at most one space or dash between two characters
_NOT_DIGIT_BEFORE = "(?<![0-9０-９])"
_NOT_DIGIT_AFTER = "(?![0-9０-９])"

_ID_18 = re.compile(_NOT_DIGIT_BEFORE + _D1 + f"(?:{_SEP}{_D}){{16}}{_SEP}[0-9０-９XxＸｘ]" + "(?![0-9０-９A-Za-z])")
_ID_15 = re.compile(_NOT_DIGIT_BEFORE + _D1 + f"(?:{_SEP}{_D}){{14}}" + _NOT_DIGIT_AFTER)
_MOBILE = re.compile(
    "(?:(?P<prefix>"
    + _NOT_DIGIT_BEFORE
    + "[(（]?(?:[+＋]|00|００)?(?:86|８６)[)）]?"
    + _SEP
    + ")|"
    + _NOT_DIGIT_BEFORE
    + ")"
    + f"(?P<number>[1１]{_SEP}[3-9３-９](?:{_SEP}{_D}){{9}})"
    + _NOT_DIGIT_AFTER
)
_LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE
    + f"(?P<area>[(（]?[0０]{_D}{{2,3}}[)）]?){_SEP}(?P<local>[2-9２-９]{_D}{{2,3}}{_SEP}{_D}{{4}})"
    + _NOT_DIGIT_AFTER
)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit() or c in "XxＸｘ")


def _mask_id(m: re.Match[str]) -> str:
    chars = _digits(m.group(0))
    keep_end = 4 if len(chars) == 18 else 3
    return chars[:6] + "*" * (len(chars) - 6 - keep_end) + chars[-keep_end:]


def _mask_mobile(m: re.Match[str]) -> str:
    number = _digits(m.group("number"))
    return (m.group("prefix") or "") + number[:3] + "****" + number[-4:]


def _mask_landline(m: re.Match[str]) -> str:
    local = _digits(m.group("local"))
    return m.group("area") + "-****" + local[-4:]


def mask_pii(text: str) -> str:
    """Mask Chinese resident ID numbers and phone numbers (keep the ends, so staff can tell them apart)."""
    text = _ID_18.sub(_mask_id, text)
    text = _ID_15.sub(_mask_id, text)
    text = _MOBILE.sub(_mask_mobile, text)
    return _LANDLINE.sub(_mask_landline, text)


def mask_name(name: str) -> str:
    """A resident's name as staff lists show it: the family name, then * (张**; a one-character name: *)."""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)
