"""The knowledge base: one object holding the library, the index and the retriever.

Web keeps one on ``app.state``; the CLI opens one per command.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.answer import Answer, build_answer
from knowledge.errors import IndexMissing, NotFound, StaleIndex
from knowledge.hours import Clock, SystemClock
from knowledge.index import Index, load_index
from knowledge.library import Library, load_library
from knowledge.pipeline import build_index
from knowledge.retrieval import Aspect, RetrievalResult, Retriever, RetrieverConfig, detect_aspect
from knowledge.retrieval.calibration import CONFIDENCE_FILE, LOO_THRESHOLD, load_fold_calibration
from knowledge.schema import FAQ, plate_code
from knowledge.settings import Settings

logger = logging.getLogger(__name__)


def split_sentences(texts: Iterable[str]) -> list[str]:
    """Sentences of the guide's texts, each ending at 。！？；"""
    out: list[str] = []
    for t in texts:
        out += [s.strip() for s in re.split(r"(?<=[。！？；])", t) if s.strip()]
    return out


# The aspects no field of a guide answers better than a common question asked in other words.
LOOSE_FAQ_ASPECTS = frozenset({None, Aspect.MATERIALS, Aspect.DOCUMENT})

MAX_QUESTION_CHARS = 500


@dataclass
class AskResult:
    retrieval: RetrievalResult
    answer: Answer | None

    def to_json(self) -> dict[str, object]:
        r = self.retrieval
        return {
            "abstain": r.abstain,
            "confidence": round(r.confidence, 3),
            "aspect": r.aspect.value if r.aspect else None,
            "declined_topic": r.declined_topic,
            "candidates": [{"item": c.item, "score": c.score, "situation": c.situation} for c in r.candidates],
            "answer": self.answer.model_dump(mode="json") if self.answer else None,
        }


class KnowledgeBase:
    """Guides + index + retriever; ``ask()`` answers a question without I/O."""

    def __init__(self, library: Library, index: Index, settings: Settings) -> None:
        self.library = library
        self.index = index
        self.settings = settings
        self.clock: Clock = SystemClock()  # where "now" comes from for halls' hours and review dates
        # The calibration fitted on our folds, when the guides ship one; else the index's own.
        fold = load_fold_calibration(settings.guides_path / CONFIDENCE_FILE)
        calibration = fold.calibration if fold else None
        threshold, english = (fold.threshold, fold.english_threshold) if fold else (LOO_THRESHOLD, None)
        if settings.abstain_threshold is not None:  # an operator's override: one threshold for all
            threshold, english = settings.abstain_threshold, None
        self.retriever = Retriever(
            index,
            RetrieverConfig(abstain_threshold=threshold, english_threshold=english),
            calibration=calibration,
            situations={c: [s.id for s in g.situations] for c, g in library.guides.items()},
            bundles={c: frozenset(g.members) for c, g in library.guides.items() if g.bundle},
            names=library.names(),
            situation_names=library.situation_names(),
        )
        self._faq_asks: dict[tuple[str, str], list[str]] | None = None  # (item, FAQ q) → labelled follow-ups

    @classmethod
    def open(cls, settings: Settings, *, with_dense: bool = True) -> KnowledgeBase:
        """Load guides and index; rebuild a missing or stale index only when allowed."""
        library = load_library(settings.guides_path, settings.catalogue)
        try:
            index = load_index(
                settings.index_path, library, with_dense=with_dense, dense_required=settings.dense_required
            )
        except (StaleIndex, IndexMissing):
            if not settings.index_auto_rebuild:
                raise
            logger.warning("index missing or stale: rebuilding (MENPAI_INDEX_AUTO_REBUILD)")
            build_index(
                library,
                settings.index_path,
                settings.embedder,
                settings.base_model,
                settings.faiss_index,
                settings.domain_epochs,
            )
            index = load_index(
                settings.index_path, library, with_dense=with_dense, dense_required=settings.dense_required
            )
        return cls(library, index, settings)

    def location_of(self, plate: str | None) -> tuple[float, float] | None:
        if not plate:
            return None
        p = self.library.plates.get(plate_code(plate))
        if p is None:
            raise NotFound(f"unknown door plate {plate!r}")
        return p.lng, p.lat

    def ask(
        self,
        question: str,
        *,
        plate: str | None = None,
        lng: float | None = None,
        lat: float | None = None,
        now: dt.datetime | None = None,
    ) -> AskResult:
        """Retrieve and, unless abstaining, build the answer for the top item."""
        question = question[:MAX_QUESTION_CHARS]
        where = self.location_of(plate)
        if where is not None:
            lng, lat = where
        result = self.retriever.search(question)
        answer = None
        if result.top is not None:
            answer = self.answer(result.top.item, result.top.situation, result.aspect, lng=lng, lat=lat, now=now)
            answer.confidence = round(result.confidence, 3)
        return AskResult(result, answer)

    def faq_for(
        self, item: str, question: str, exclude: frozenset[str] = frozenset(), *, follow_up: bool = True
    ) -> FAQ | None:
        """The item's common question (FAQ) that ``question`` asks, if one does (its answer leads).

        Its words first (most of the FAQ's rare words); else, for a question that asks no aspect a
        field answers (only the list, one document, or nothing named), the FAQ it asks in other
        words, judged against the FAQ and the follow-ups writers labelled with it (``exclude``:
        follow-ups left out, when they are what is measured; ``follow_up``: False for a first
        question, which only its own words may match)."""
        guide = self.library.guides.get(item)
        if guide is None or not question.strip():
            return None
        normalized = self.index.normalizer(question[:MAX_QUESTION_CHARS])
        questions = [f.q for f in guide.faqs]
        n = self.retriever.faq_match(item, normalized, questions, guide.title)
        # Only a follow-up: a first question names the service, and in other words (the dense side
        # above all) "驾照丢了要怎么补" is close to 驾照丢了要登报吗？ — measured on follow-ups only.
        if n is None and follow_up and detect_aspect(normalized) in LOOSE_FAQ_ASPECTS:
            n = self.retriever.faq_loose(normalized, self.faq_texts(item, exclude), guide.title)
        return guide.faqs[n] if n is not None else None

    def faq_texts(self, item: str, exclude: frozenset[str] = frozenset()) -> list[list[str]]:
        """For each of the item's FAQs, its q and the follow-ups writers labelled with it (but those
        in ``exclude``)."""
        if self._faq_asks is None:
            self._faq_asks = {}
            for a in self.library.faq_asks:
                if a.faq is not None:
                    self._faq_asks.setdefault((a.item, a.faq), []).append(a.q)
        guide = self.library.guides[item]
        return [[f.q, *(q for q in self._faq_asks.get((item, f.q), []) if q not in exclude)] for f in guide.faqs]

    def answer(
        self,
        item: str,
        situation: str | None = None,
        aspect: Aspect | None = None,
        *,
        lng: float | None = None,
        lat: float | None = None,
        now: dt.datetime | None = None,
    ) -> Answer:
        if item not in self.library.guides:
            raise NotFound(f"unknown item {item!r}")
        return build_answer(self.library, item, situation, aspect, lng=lng, lat=lat, now=now or self.clock.now())
