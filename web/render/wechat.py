"""WeChat text: one budget for a whole reply, counted the way WeChat counts it (UTF-8 bytes).

A passive text reply (and a customer-service text message) is capped at 2048 bytes; we keep
a margin. An answer is rendered within what is left of the budget; what goes around it (an
undelivered backlog, a choice list) is fitted by the same measure.
"""

from __future__ import annotations

from collections.abc import Iterable

from web.render.plain import cut
from web.render.sentences import SAY

MAX_TEXT_BYTES = 2000  # WeChat text messages are capped at 2048 bytes


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def fit(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """Cut text to the byte budget without breaking a character."""
    return cut(text, limit, utf8_len)


def choices_text(text: str, labels: Iterable[str]) -> str:
    """A question with numbered options: WeChat has no buttons in a text reply."""
    lines = [text, *(f"{i}. {label}" for i, label in enumerate(labels, 1)), SAY["wechat_choose"]]
    return "\n".join(lines)


def join(parts: Iterable[str]) -> str:
    """Several messages as one reply, within the budget."""
    return fit("\n\n".join(p for p in parts if p))
