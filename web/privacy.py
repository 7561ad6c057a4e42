"""What is kept of what residents type: Chinese ID and mobile numbers are masked before storing."""

from __future__ import annotations

import re

_ID_NUMBER = re.compile(r"(?<![0-9])([1-9]\d{5})(\d{8})(\d{3}[0-9Xx])(?![0-9])")
_PHONE = re.compile(r"(?<![0-9])(1[3-9]\d)(\d{4})(\d{4})(?![0-9])")


def mask_pii(text: str) -> str:
    """Mask Chinese resident ID numbers and mobile numbers (keep the ends)."""
    text = _ID_NUMBER.sub(lambda m: m.group(1) + "********" + m.group(3), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
