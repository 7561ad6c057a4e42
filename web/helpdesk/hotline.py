"""12345 hotline agents answer a caller: search the guides, copy the checklist as an SMS."""

from __future__ import annotations

import asyncio
from typing import Any

from knowledge.service import KnowledgeBase
from web.render.plain import render_text

MAX_QUERY_CHARS = 500


async def lookup(kb: KnowledgeBase, q: str, item: str, situation: str) -> dict[str, Any]:
    """A chosen item's checklist, or the answer and candidates for what the caller said."""
    result = None
    sms = ""
    if item in kb.library.guides:
        sms = render_text(kb.answer(item, situation or None))
    elif q.strip():
        result = await asyncio.to_thread(kb.ask, q[:MAX_QUERY_CHARS])
        if result.answer is not None:
            sms = render_text(result.answer)
    candidates = [kb.library.guides[c.item] for c in result.retrieval.candidates] if result else []
    return {"sms": sms, "candidates": candidates, "abstain": bool(result and result.answer is None)}
