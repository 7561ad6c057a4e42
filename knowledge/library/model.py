"""The loaded guide library: the ``Library`` dataclass, its asks, and where its files live.

What the index, the pages and the editor read once the content is loaded and checked;
also the names of the content files under the guides folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from knowledge.normalize import Normalizer
from knowledge.schema import (
    CatalogueItem,
    Guide,
    Hall,
    Holiday,
    Lookup,
    OutOfScopeTopic,
    Plate,
    Referral,
    SlotsFile,
)

GUIDES_SUBDIR = "items"
HALLS_FILE = "halls.yaml"
PLATES_FILE = "plates.csv"
ALIASES_FILE = "aliases.yaml"
OUT_OF_SCOPE_FILE = "out_of_scope.yaml"
CATALOGUE_FILE = "catalogue.yaml"
ASKS_DIR = "asks"
FAQ_ASKS_DIR = "faq_asks"
REFERRALS_DIR = "referrals"
LOOKUPS_FILE = "lookups.yaml"
SLOTS_FILE = "slots.yaml"
GUIDE_BATCH = "guide"  # the asks written in the guide itself


@dataclass(frozen=True, slots=True)
class AskRecord:
    """One ask of an item, with the writer batch and the style it came from."""

    item: str
    q: str
    batch: str
    style: str
    situation: str | None = None


@dataclass(frozen=True, slots=True)
class FaqAskRecord:
    """One follow-up labelled with the FAQ it asks (None: no FAQ answers it)."""

    item: str
    q: str
    writer: str
    style: str
    faq: str | None


@dataclass
class Library:
    """The validated content, ready for the index and the pages."""

    root: Path
    catalogue: dict[str, CatalogueItem]
    guides: dict[str, Guide]
    halls: dict[str, Hall]
    holidays: list[Holiday]
    plates: dict[str, Plate]
    normalizer: Normalizer
    content_hash: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    out_of_scope: dict[str, OutOfScopeTopic] = field(default_factory=dict)
    asks: list[AskRecord] = field(default_factory=list)
    faq_asks: list[FaqAskRecord] = field(default_factory=list)
    referrals: dict[str, Referral] = field(default_factory=dict)
    lookups: dict[str, Lookup] = field(default_factory=dict)
    slots: SlotsFile = field(default_factory=SlotsFile)  # guides/slots.yaml: appointments (预约)

    def names(self) -> dict[str, str]:
        """Each guide's name as residents meet it: its title and the catalogue's name."""
        return {
            code: f"{g.title} {self.catalogue[code].name if code in self.catalogue else ''}".strip()
            for code, g in self.guides.items()
        }

    def situation_names(self) -> dict[str, dict[str, str]]:
        """Each guide's situations by id, with the names their editors gave them."""
        return {code: {s.id: s.name for s in g.situations} for code, g in self.guides.items()}

    def asks_of(self, item: str) -> list[AskRecord]:
        return [a for a in self.asks if a.item == item]

    def halls_for(self, item_code: str) -> list[Hall]:
        return [h for h in self.halls.values() if item_code in h.items]

    def put_guide(self, guide: Guide) -> None:
        """Replace one guide in place (a published edit), with the asks written in it."""
        self.guides[guide.code] = guide
        kept = [a for a in self.asks if a.item != guide.code or a.batch != GUIDE_BATCH]
        self.asks[:] = [*kept, *(AskRecord(guide.code, q, GUIDE_BATCH, GUIDE_BATCH) for q in guide.asks)]


def guide_path(lib: Library, code: str) -> Path:
    """Where the guide for a code lives (or would live) under the library's root."""
    return lib.files.get(code) or lib.root / GUIDES_SUBDIR / f"{code}.yaml"
