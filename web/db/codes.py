"""Codes people read out and type: 帮办 query codes and 12345 work-order numbers.

80 random bits as 16 characters of Crockford base32 (no I, L, O, U), grouped by four:
``7K2M-Q9XD-4RTB-HN0C``. Typing forgives case, spaces, missing or extra dashes, and the look-alikes
I/L (→ 1) and O (→ 0). Too many to guess or to collide by chance; a collision is retried anyway.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_CHARS = 16  # 80 bits
GROUP = 4
MAX_TRIES = 5  # new codes tried when one is taken (it never happens by chance)
_LOOKALIKE = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = re.compile(r"[\s\-－—_]+")


SHORT_CHARS = 8  # 40 bits: an appointment's code, read out at the window; cancelling also needs the phone


def new_code(chars_count: int = CODE_CHARS) -> str:
    """A fresh random code, grouped: ``XXXX-XXXX-XXXX-XXXX`` (or ``XXXX-XXXX`` for a short one)."""
    bits = secrets.randbits(5 * chars_count)
    chars = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(chars_count))
    return group(chars)


def group(chars: str) -> str:
    return "-".join(chars[i : i + GROUP] for i in range(0, len(chars), GROUP))


def normalize_code(text: str) -> str:
    """A typed code as stored: upper case, look-alikes mapped, grouped again.

    Anything that is not a code of ours comes back trimmed and upper-cased (older short codes still match).
    """
    raw = _SEPARATORS.sub("", text.strip().upper())
    mapped = raw.translate(_LOOKALIKE)
    if len(mapped) in (CODE_CHARS, SHORT_CHARS) and all(c in ALPHABET for c in mapped):
        return group(mapped)
    return text.strip().upper()
