"""The index's entries: what a question can match, made from the validated library.

One entry per item, situation, ask and question-with-answer of each guide, then the
entries of what has no guide (out-of-scope topics, referrals, look-ups), whose item
names carry a prefix. Entry ids are content hashes, so a rebuild of unchanged guides
yields the same ids.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass

from knowledge.library import GUIDE_BATCH, AskRecord, Library

OOS_PREFIX = "_oos:"
REFERRAL_PREFIX = "_ref:"  # the county's other services: an honest referral, not a guide
LOOKUP_PREFIX = "_look:"  # a resident's own records: where to see them
NOT_A_GUIDE = (OOS_PREFIX, REFERRAL_PREFIX, LOOKUP_PREFIX)


class EntryKind(enum.StrEnum):
    ITEM = "item"
    SITUATION = "situation"
    ASK = "ask"
    FAQ = "faq"
    OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    item: str
    situation: str | None
    kind: EntryKind
    text: str

    def to_json(self) -> str:
        data = asdict(self)
        data["kind"] = self.kind.value
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Entry:
        data = json.loads(line)
        data["kind"] = EntryKind(data["kind"])
        return cls(**data)


def _entry(item: str, situation: str | None, kind: EntryKind, text: str) -> Entry:
    digest = hashlib.sha256(f"{item}\x1f{situation}\x1f{kind.value}\x1f{text}".encode()).hexdigest()
    return Entry(digest[:16], item, situation, kind, text)


def build_entries(lib: Library) -> list[Entry]:
    """One entry per item, situation, ask and question-with-answer; then the entries of
    what has no guide (out-of-scope topics, referrals, look-ups), so they can win."""
    entries: list[Entry] = []
    extra_asks: dict[str, list[AskRecord]] = {}
    for record in lib.asks:
        if record.batch != GUIDE_BATCH:
            extra_asks.setdefault(record.item, []).append(record)
    for code, guide in sorted(lib.guides.items()):
        cat = lib.catalogue.get(code)
        head = f"{guide.title} {cat.name if cat else ''}"
        item_text = " ".join([head, cat.scope if cat else "", guide.summary, *guide.eligibility])
        entries.append(_entry(code, None, EntryKind.ITEM, item_text))
        if len(guide.situations) > 1:
            for s in guide.situations:
                entries.append(_entry(code, s.id, EntryKind.SITUATION, f"{head} {s.name} {s.when}"))
        for ask in guide.asks:
            entries.append(_entry(code, None, EntryKind.ASK, ask))
        for record in extra_asks.get(code, ()):
            entries.append(_entry(code, record.situation, EntryKind.ASK, record.q))
        for faq in guide.faqs:
            entries.append(_entry(code, None, EntryKind.FAQ, f"{guide.title} {faq.q}"))
    for topic in lib.out_of_scope.values():
        for text in (topic.name, *topic.asks):
            entries.append(_entry(OOS_PREFIX + topic.id, None, EntryKind.OUT_OF_SCOPE, text))
    for ref in lib.referrals.values():
        for text in (f"{ref.name} {ref.what}", *ref.asks):
            entries.append(_entry(REFERRAL_PREFIX + ref.id, None, EntryKind.OUT_OF_SCOPE, text))
    for look in lib.lookups.values():
        for text in (f"{look.name} {look.what}", *look.asks):
            entries.append(_entry(LOOKUP_PREFIX + look.id, None, EntryKind.OUT_OF_SCOPE, text))
    return entries
