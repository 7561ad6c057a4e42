"""Hybrid retrieval: lexical + dense → reciprocal rank fusion → items → situation.

The retriever ranks items first and then picks the situation within the best item,
detects which aspect the resident asks about, and abstains when nothing fits. The
result types (candidates, declined topics) live here too.
"""

from __future__ import annotations

import enum
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from knowledge.index.entries import LOOKUP_PREFIX, NOT_A_GUIDE, OOS_PREFIX, REFERRAL_PREFIX, EntryKind
from knowledge.index.files import Index
from knowledge.retrieval.calibration import FEATURES, Calibration
from knowledge.retrieval.classifier import ItemClassifier
from knowledge.retrieval.fusion import RRF_K, reciprocal_rank_fusion
from knowledge.retrieval.query import (
    ASPECT_CUES,
    BUNDLE_CUE,
    FOLLOW_UP_CHARS,
    GENERIC,
    LOOKUP_CUE,
    SWITCH_CUE,
    Aspect,
    detect_aspect,
)

_LATIN_LETTER = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def written_in_english(text: str) -> bool:
    """More Latin letters than Chinese characters (a whole English ask, not "gjj余额")."""
    return len(_LATIN_LETTER.findall(text)) > 2 * len(_CJK.findall(text))


class Declined(enum.StrEnum):
    """What a question that no guide answers matched instead."""

    OUT_OF_SCOPE = "out_of_scope"  # not a county service: where to go instead
    REFERRAL = "referral"  # a county service without a guide yet: who handles it
    LOOKUP = "lookup"  # the resident's own records: where they can see them


_DECLINED_PREFIXES = {REFERRAL_PREFIX: "ref:", LOOKUP_PREFIX: "look:", OOS_PREFIX: ""}


def declined_key(entry_item: str) -> str | None:
    """The index's name of a non-guide entry as retrieval reports it: ``trademark`` (an
    out-of-scope topic), ``ref:<id>`` (a referral) or ``look:<id>`` (a look-up)."""
    for prefix, shown in _DECLINED_PREFIXES.items():
        if entry_item.startswith(prefix):
            return shown + entry_item.removeprefix(prefix)
    return None


def declined_kind(key: str) -> tuple[Declined, str]:
    """Split a declined key into its kind and the entry id."""
    if key.startswith("ref:"):
        return Declined.REFERRAL, key.removeprefix("ref:")
    if key.startswith("look:"):
        return Declined.LOOKUP, key.removeprefix("look:")
    return Declined.OUT_OF_SCOPE, key


@dataclass(frozen=True)
class Candidate:
    item: str
    score: float
    situation: str | None = None


@dataclass
class RetrievalResult:
    query: str
    normalized: str
    candidates: list[Candidate]
    confidence: float
    abstain: bool
    aspect: Aspect | None
    dense_used: bool
    situation_scores: dict[str, float] = field(default_factory=dict)
    declined_topic: str | None = None
    named: bool = True  # the question names something specific (else it is a follow-up)
    about_current: bool = False  # it names something, but nothing beyond the current item's words
    features: tuple[float, ...] = ()  # the confidence features of the ranking (calibration.FEATURES)

    @property
    def top(self) -> Candidate | None:
        return None if self.abstain or not self.candidates else self.candidates[0]

    def as_metadata(self) -> dict[str, object]:
        """The retrieval result as JSON-able message metadata for Rasa."""
        return {
            "abstain": self.abstain,
            "declined_topic": self.declined_topic,
            "names_service": self.named,
            "about_current": self.about_current,
            "switch_cue": bool(SWITCH_CUE.search(self.normalized)),
            "confidence": round(self.confidence, 3),
            "aspect": self.aspect.value if self.aspect else None,
            "candidates": [
                {"item": c.item, "score": round(c.score, 3), "situation": c.situation} for c in self.candidates
            ],
        }


# A resident's question "is" one of the item's common questions (FAQ) when it shares most of
# that question's rare words beyond those naming the service. Chosen on our own asks (see
# ``faq_match``'s docstring), never on the public sets.
FAQ_MIN_SHARE = 0.6
FAQ_MIN_MASS = 3.0
# A follow-up that asks no aspect (or the list, or one document) may ask a FAQ in other words
# ("补好之前俺还能开车不" → 补证期间能开车吗？): its score against the FAQ and the follow-ups
# writers labelled with it is the lexical overlap (the mean of both sides' shares of rare-word
# mass) plus FAQ_DENSE_WEIGHT × the dense cosine; the best FAQ is taken when it scores at least
# FAQ_LOOSE_MIN and FAQ_LOOSE_MARGIN more than the next. Chosen on folds of guides/faq_asks
# (``menpai eval-faq``: tuned on three writers, measured on the fourth), never on the public sets.
FAQ_DENSE_WEIGHT = 0.5
FAQ_LOOSE_MIN = 0.3
FAQ_LOOSE_MARGIN = 0.1

# A word that at most two items have anywhere (log((n + 1) / 2.5) with n ≈ 430 items).
RARE_WORD_IDF = 5.1
NAMING_KINDS = frozenset({EntryKind.ITEM, EntryKind.SITUATION, EntryKind.FAQ})

SITUATION_OWN = 3  # a situation's own name and "when" count as this many labelled asks
SITUATION_MIN = 2.0  # at least one fairly rare word that only some situations have
SITUATION_RATIO = 1.5  # and clearly more than the next situation
MIN_SALIENCE = 1.5
# Moving on from an item, a match done in the same life event (bundle) goes first when it scores
# at least this share of the best: a prior, not fitted (the folds hold no conversations).
RELATED_SHARE = 0.9


def pick_faq(scores: Sequence[float], minimum: float = FAQ_LOOSE_MIN, margin: float = FAQ_LOOSE_MARGIN) -> int | None:
    """The best-scoring FAQ, when it scores at least ``minimum`` and ``margin`` more than the next."""
    if not scores:
        return None
    ranked = sorted(range(len(scores)), key=lambda n: -scores[n])
    top = scores[ranked[0]]
    second = scores[ranked[1]] if len(ranked) > 1 else 0.0
    return ranked[0] if top >= minimum and top - second >= margin else None


@dataclass(frozen=True)
class RetrieverConfig:
    lexical_weight: float = 1.0
    dense_weight: float = 0.3
    top_k: int = 60
    candidates: int = 3
    abstain_threshold: float = 0.35
    # Questions written in English: their own threshold, chosen on the folds (None: the same).
    english_threshold: float | None = None
    situation_margin: float = 0.04
    situation_from_asks: bool = True  # situation words also from the asks labelled with it
    situation_split: bool = False  # divide a word's weight by the number of situations that have it
    item_decay: float = 0.5  # an item's n-th best entry counts decay**n: agreement is evidence
    situation_model: str = "nb"  # "nb": naive Bayes over the labelled asks; "words": rare words summed (before)
    # Log-likelihood lead the best situation needs, else ask back: chosen on the folds by
    # `menpai eval-cv --situations` (highest right - 3 x wrong - guessed-on-open-questions).
    situation_nb_margin: float = 2.0
    # The lead that is enough when a word of the top situation's own name is in the question
    # (None: the rule is off); chosen on the folds by `menpai eval-cv --situations`.
    situation_name_margin: float | None = 1.0
    # Leave out of the situation model the words every situation has at least once (before
    # 2026-12-07). Kept, naive Bayes weighs how much more often one situation has them: 挂失 is
    # in an ask of every situation of the social card but in most of those of "lost" (chosen by
    # `menpai eval-cv --situations` against `--drop-common`).
    situation_drop_common: bool = False
    # English questions: a topic without a guide is declined only when the best guide scores
    # below this share of it (None: whenever it is first); chosen on the folds (0.9 / 0.75 / 0.6:
    # the most English declined with English false abstain at most 0.06, its level before).
    english_topic_lead: float | None = 0.75
    # A question in the words of a look-up of one's own records (查一下, 还剩多少, 交上了没, "my
    # balance"): the best personal-data look-up is the answer when it scores at least this share
    # of the top match (None: off); English questions need english_lookup_lead. Chosen on the
    # folds (menpai eval-cv --lookup-lead 0.6 / 0.8 / 1.0): Chinese abstain recall 0.855 → 0.863,
    # false abstain 0.030 → 0.029 at 0.6; English false abstain rises past 0.06 below 1.0.
    lookup_lead: float | None = 0.6
    english_lookup_lead: float | None = 1.0
    # The item classifier's weight in the fusion beside the lexical and dense sides (0: off);
    # chosen on the folds (menpai eval-cv --classifier-weight: 0 / 0.3 / 0.6 / 1.0 / 1.5 / 2.5).
    classifier_weight: float = 1.5


@dataclass
class Ranking:
    ranked: list[tuple[str, float]]
    features: tuple[float, ...]
    fused: dict[int, float]
    qvec: np.ndarray | None
    dense_used: bool


class Retriever:
    """Ranks items and situations for a question. No I/O after construction."""

    def __init__(
        self,
        index: Index,
        config: RetrieverConfig | None = None,
        situations: Mapping[str, Sequence[str]] | None = None,
        calibration: Calibration | None = None,
        bundles: Mapping[str, frozenset[str]] | None = None,
        names: Mapping[str, str] | None = None,
        situation_names: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.index = index
        self._situation_names = {item: dict(v) for item, v in (situation_names or {}).items()}
        self._name_word_cache: dict[str, dict[str, str]] = {}
        self.bundles = dict(bundles or {})
        self.config = config or RetrieverConfig()
        saved = index.calibration
        self.calibration = calibration or (
            Calibration(tuple(saved["weights"]), saved["bias"]) if saved else Calibration()
        )
        self._situations: dict[str, list[int]] = defaultdict(list)
        self._labelled_asks: dict[str, list[int]] = defaultdict(list)
        self._situation_cache: dict[tuple[str, frozenset[str]], dict[str, set[str]]] = {}
        self._nb_cache: dict[tuple[str, frozenset[str]], tuple[dict[str, Counter[str]], set[str]]] = {}
        self._faq_texts: dict[tuple[str, str], tuple[str, frozenset[str], np.ndarray | None]] = {}
        by_item: dict[str, list[int]] = defaultdict(list)
        # English asks carry the glossary's Chinese words (for English questions): a Chinese
        # question matching them through those words is matching the glossary, not the ask.
        self._english = frozenset(i for i, e in enumerate(index.entries) if written_in_english(e.text))
        # The words that name an item: its name (``names``: a guide's title and catalogue name;
        # else what its editors wrote), a topic's name — as opposed to the fillers of asks.
        naming: dict[str, list[int]] = defaultdict(list)
        editorial: dict[str, list[int]] = defaultdict(list)  # what editors wrote: no asks
        for i, entry in enumerate(index.entries):
            if entry.kind is not EntryKind.ASK:
                editorial[entry.item].append(i)
            named_apart = names is not None and entry.item in names
            if (entry.kind in NAMING_KINDS and not named_apart) or (
                entry.item.startswith(NOT_A_GUIDE) and entry.item not in naming
            ):
                naming[entry.item].append(i)
            if entry.kind is EntryKind.SITUATION:
                self._situations[entry.item].append(i)
            elif entry.kind is EntryKind.ASK and entry.situation is not None:
                self._labelled_asks[entry.item].append(i)
            by_item[entry.item].append(i)
        # Each item's tokens, from the entries tokenised at build: sorted token ids.
        corpus = index.lexical.corpus
        if corpus is None:
            raise RuntimeError("LexicalRetriever.warm_up() was not called")
        self._token_ids = corpus.lookup
        self._vocab: dict[str, np.ndarray] = {item: corpus.unique_ids(ids) for item, ids in by_item.items()}
        self._naming: dict[str, np.ndarray] = {item: corpus.unique_ids(ids) for item, ids in naming.items()}
        self._editorial: dict[str, np.ndarray] = {item: corpus.unique_ids(ids) for item, ids in editorial.items()}
        tokenize, normalize = index.lexical.tokenizer, index.normalizer
        for item, name in (names or {}).items():
            known = {corpus.lookup[t] for t in tokenize.words(normalize(name)) if t in corpus.lookup}
            self._naming[item] = np.asarray(sorted(known), dtype=np.int32)
        # Inverse document frequency over items: a token every item has says nothing.
        df = np.bincount(
            np.concatenate([np.zeros(0, np.int32), *self._vocab.values()]), minlength=len(corpus.vocab)
        ).tolist()
        n = len(self._vocab)
        self._idf = {
            t: math.log((n + 1) / (d + 0.5)) for t, d in zip(corpus.vocab, df, strict=True) if d and t not in GENERIC
        }
        self.situation_ids = situations or {}
        self._entry_items = [e.item for e in index.entries]
        self._classifiers: dict[bool, ItemClassifier] = {}

    def classifier(self, english: bool) -> ItemClassifier:
        """The item classifier for a question: over every entry for an English question, over
        all but the English asks for a Chinese one (as the ranking leaves those out)."""
        got = self._classifiers.get(english)
        if got is None:
            corpus = self.index.lexical.corpus
            assert corpus is not None
            entries = (i for i in range(len(self._entry_items)) if english or i not in self._english)
            got = self._classifiers[english] = ItemClassifier(corpus, self._entry_items, entries)
        return got

    def _item_has(self, item: str, token: str, vocab: Mapping[str, np.ndarray] | None = None) -> bool:
        ids = (self._vocab if vocab is None else vocab).get(item)
        ident = self._token_ids.get(token)
        if ids is None or ident is None:
            return False
        at = int(np.searchsorted(ids, ident))
        return at < len(ids) and int(ids[at]) == ident

    def content_words(self, normalized: str) -> list[str]:
        """Tokens of a question the index knows (words and character bigrams), minus generic ones.

        Filler a resident adds ("我一个人住，腿脚不方便") is unknown to every item and does
        not lower the coverage; a rare token the top item lacks does.
        """
        return [t for t in dict.fromkeys(self.index.lexical.tokenizer(normalized)) if t in self._idf]

    def _prefer_bundle(self, normalized: str, ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """The catalogue's rule: doing several steps together, in one trip, is the bundle (一件事).

        When the question says so, the bundle whose member items the question's top
        candidates are goes first (the life event, not one of its steps).
        """
        if not self.bundles or not BUNDLE_CUE.search(normalized) or not ranked or ranked[0][0] in self.bundles:
            return ranked
        top = [item for item, _ in ranked[:5]]
        best, overlap = None, 0
        for item in top:
            if item in self.bundles:
                shared = len(self.bundles[item] & set(top[:3]))
                if shared > overlap:
                    best, overlap = item, shared
        if best is None:
            return ranked
        n = top.index(best)
        return [(best, max(ranked[n][1], ranked[0][1])), *ranked[:n], *ranked[n + 1 :]]

    def related(self, item: str) -> frozenset[str]:
        """The items done in one life event with ``item`` (its bundles' members, or its own)."""
        out: set[str] = set(self.bundles.get(item, ()))
        for bundle, members in self.bundles.items():
            if item in members:
                out |= {bundle, *members}
        return frozenset(out - {item})

    def _prefer_related(self, current: str, ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """Moving on from ``current`` to another service: of two near-equal matches, the one done
        in the same life event goes first. After a newborn's hukou, "孩子医保怎么交" is the
        newborn's insurance, not the adults' resident insurance its words match as well."""
        related = self.related(current)
        if not related or not ranked or ranked[0][0] in related or ranked[0][0] == current:
            return ranked
        top = ranked[0][1]
        for n, (item, score) in enumerate(ranked[1:3], 1):
            if item in related and score >= RELATED_SHARE * top:
                return [ranked[n], *ranked[:n], *ranked[n + 1 :]]
        return ranked

    def names_something(self, normalized: str) -> bool:
        """Does the question name anything specific (a word rarer than 多少钱 or 身份证)?

        "那要多少钱" or "在哪里办" name no service: that is a follow-up for the dialogue
        to resolve against the current item, never a reason to pick one. Nor do the
        words that say which aspect is asked (周六, 下班, 网上): "几点下班" must not pick
        the guide whose text mentions 上下班途中.
        """
        rest = ASPECT_CUES.sub(" ", normalized)
        return any(
            self._idf.get(w, 0.0) >= MIN_SALIENCE and not set(w) <= FOLLOW_UP_CHARS
            for w in self.index.lexical.tokenizer.words(rest)
        )

    def evidence_for(self, normalized: str, item: str, over: str) -> list[str]:
        """The words of a question that speak for ``item`` rather than ``over``: salient words
        (as ``names_something`` counts them) that name ``item`` and not ``over``: a word of
        ``item``'s name that ``over``'s own text (its editors', not residents' asks) lacks, or a
        word so rare that at most two items have it, ``item`` one and ``over`` not (复印, 排队,
        一年 are in several items' words and name none of them).

        "礼拜六去窗口交行不行" while talking about resident medical insurance has none for the
        rent withdrawal its 交 matches; "另外，重度残疾人护理补贴怎么申请" while talking about
        the disability card has 护理补贴. No evidence: the question is about ``over`` still.
        """
        rest = ASPECT_CUES.sub(" ", normalized)
        return [
            w
            for w in dict.fromkeys(self.index.lexical.tokenizer.words(rest))
            if len(w) >= 2
            and self._idf.get(w, 0.0) >= MIN_SALIENCE
            and not set(w) <= FOLLOW_UP_CHARS
            and (
                # a word of the item's name that the current item's own text (not its asks) lacks
                (self._item_has(item, w, self._naming) and not self._item_has(over, w, self._editorial))
                # or a rare word the item has and the current one lacks altogether
                or (self._idf[w] >= RARE_WORD_IDF and self._item_has(item, w) and not self._item_has(over, w))
            )
        ]

    def coverage(self, normalized: str, item: str) -> tuple[float, float]:
        """IDF-weighted share of the question's known tokens that the item's entries contain,
        and how much the question says at all (the IDF mass of those tokens, log-scaled)."""
        share, _, _, total = self._evidence(normalized, item)
        return share, math.log1p(total)

    def _evidence(self, normalized: str, item: str) -> tuple[float, float, float, float]:
        """How the question's known tokens fall on an item: the IDF-weighted share it covers,
        the IDF mass it covers, the rarest token it lacks (its IDF), and the question's mass."""
        tokens = self.content_words(normalized)
        total = covered = missing = 0.0
        for t in tokens:
            weight = self._idf[t]
            total += weight
            if self._item_has(item, t):
                covered += weight
            else:
                missing = max(missing, weight)
        return (covered / total if total > 0 else 0.0), covered, missing, total

    def rank(
        self,
        normalized: str,
        *,
        lexical: bool = True,
        dense: bool = True,
        classifier: bool = True,
        exclude: frozenset[int] = frozenset(),
    ) -> Ranking:
        """Items (and out-of-scope topics) by fused score, plus the confidence features."""
        cfg = self.config
        k = cfg.top_k + len(exclude)
        lex_hits = self.index.lexical.search(normalized, k) if lexical and normalized else []
        lex_hits = [h for h in lex_hits if h[0] not in exclude]
        dense_on = dense and self.index.dense is not None and bool(normalized)
        qvec: np.ndarray | None = None
        dense_hits: list[tuple[int, float]] = []
        if dense_on:
            assert self.index.dense is not None
            qvec = self.index.dense.encode_one(normalized)
            dense_hits = [h for h in self.index.dense.search_vector(qvec, k) if h[0] not in exclude]
        fused = reciprocal_rank_fusion(
            [[i for i, _ in lex_hits], [i for i, _ in dense_hits]],
            [cfg.lexical_weight if lex_hits else 0.0, cfg.dense_weight if dense_hits else 0.0],
        )
        # An item scores by its best entries (each next one counts half as much): several
        # entries of one item agreeing is evidence, a single lucky match is less.
        per_item: dict[str, list[float]] = defaultdict(list)
        chinese = not written_in_english(normalized)
        for ident, score in fused.items():
            if chinese and ident in self._english:
                continue
            per_item[self.index.entries[ident].item].append(score)
        item_scores = {}
        decay = cfg.item_decay
        norm = sum(decay**n for n in range(4))
        for item, scores in per_item.items():
            scores.sort(reverse=True)
            item_scores[item] = sum(v * (decay**n) for n, v in enumerate(scores[:4])) / norm
        if classifier and cfg.classifier_weight > 0 and normalized:
            item_scores = self._with_classifier(
                normalized,
                item_scores,
                cfg.lexical_weight * bool(lex_hits) + cfg.dense_weight * bool(dense_hits),
                not chinese,
            )
        ranked = sorted(item_scores.items(), key=lambda kv: kv[1], reverse=True)
        features: tuple[float, ...] = (0.0,) * len(FEATURES)
        if ranked:
            top = ranked[0][0]
            coverage, covered, missing, _ = self._evidence(normalized, top)
            best_bm25 = max((s for i, s in lex_hits if self.index.entries[i].item == top), default=0.0)
            margin = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0)
            near = next((score for item, score in ranked if item.startswith(NOT_A_GUIDE)), 0.0)
            features = (
                coverage,
                math.log1p(best_bm25),
                margin,
                near / ranked[0][1] if ranked[0][1] else 0.0,
                math.log1p(covered),
                missing / 10,
            )
        return Ranking(ranked, features, fused, qvec, dense_on)

    def _with_classifier(
        self, normalized: str, item_scores: dict[str, float], fused_weight: float, english: bool
    ) -> dict[str, float]:
        """The item scores with the classifier's ranking fused in as a third ranking, on the
        scale of ``reciprocal_rank_fusion`` (an item first everywhere scores about 1)."""
        weight = self.config.classifier_weight
        lookup = self._token_ids
        ids = [lookup[t] for t in self.index.lexical.tokenizer(normalized) if t in lookup]
        ranked = self.classifier(english).rank(ids, self.config.top_k)
        if not ranked:
            return item_scores
        total = fused_weight + weight
        out = {item: score * fused_weight / total for item, score in item_scores.items()}
        for rank, (item, _) in enumerate(ranked):
            out[item] = out.get(item, 0.0) + weight * (RRF_K + 1) / (RRF_K + rank + 1) / total
        return out

    def threshold_for(self, normalized: str) -> float:
        """The abstain threshold for a question: English questions may have their own."""
        english = self.config.english_threshold
        return english if english is not None and written_in_english(normalized) else self.config.abstain_threshold

    def search(
        self,
        query: str,
        *,
        lexical: bool = True,
        dense: bool = True,
        classifier: bool = True,
        current: str | None = None,
    ) -> RetrievalResult:
        """Rank items for a question; switch a side off to measure the other alone.

        ``current``: the item a conversation is about. A question none of whose words speak
        for the top match rather than for it (``evidence_for``) names nothing new: it is about
        the current item, whatever entry a stray word matched.
        """
        cfg = self.config
        normalized = self.index.normalizer(query)
        aspect = detect_aspect(normalized)
        r = self.rank(normalized, lexical=lexical, dense=dense, classifier=classifier)
        confidence = self.calibration(r.features) if r.ranked else 0.0
        top_name = r.ranked[0][0] if r.ranked else ""
        declined = declined_key(top_name)
        lead = cfg.english_topic_lead
        if declined is not None and lead is not None and written_in_english(normalized):
            # An English question's words are the glossary's few: an entry without a guide wins
            # only when no guide comes near it (English asks of referrals would otherwise turn
            # English questions about a guide away).
            guide = next((score for item, score in r.ranked if not item.startswith(NOT_A_GUIDE)), 0.0)
            if guide >= lead * r.ranked[0][1]:
                declined = None
        if declined is None and cfg.lookup_lead is not None and r.ranked and LOOKUP_CUE.search(normalized):
            # "我的公积金还剩多少" outranked by the fund's guides: the resident asks to see their own
            # record, which the look-up's channel shows and no checklist does.
            lookup = next(((item, score) for item, score in r.ranked if item.startswith(LOOKUP_PREFIX)), None)
            share: float | None = cfg.lookup_lead
            if written_in_english(normalized):
                english = cfg.english_lookup_lead
                share = max(cfg.lookup_lead, english) if english is not None else None
            if lookup is not None and share is not None and lookup[1] >= share * r.ranked[0][1]:
                declined = declined_key(lookup[0])
        ranked = self._prefer_bundle(normalized, r.ranked)
        if ranked is not r.ranked:
            r = Ranking(ranked, r.features, r.fused, r.qvec, r.dense_used)
        named = self.names_something(normalized)
        about_current = False
        # "另外/还有/那…呢": the resident says it is another thing; the words need not prove it.
        if named and current in self._vocab and top_name and top_name != current and not SWITCH_CUE.search(normalized):
            about_current = not self.evidence_for(normalized, top_name, current)
            named = not about_current
        threshold = self.threshold_for(normalized)
        abstain = not r.ranked or declined is not None or confidence < threshold or not named
        real = [(item, score) for item, score in r.ranked if not item.startswith(NOT_A_GUIDE)]
        if named and current and declined is None:
            real = self._prefer_related(current, real)
        candidates = []
        sit_scores: dict[str, float] = {}
        for n, (item, score) in enumerate(real[: cfg.candidates]):
            situation = None
            if n == 0:
                situation, sit_scores = self._situation(item, normalized, r.qvec, r.fused)
            candidates.append(Candidate(item, round(score, 4), situation))
        result = RetrievalResult(
            query,
            normalized,
            candidates,
            confidence,
            abstain,
            aspect,
            r.dense_used,
            sit_scores,
            named=named,
            about_current=about_current,
            features=r.features,
        )
        # A question that names nothing ("在哪办") is a follow-up, not a request for an out-of-scope topic.
        result.declined_topic = declined if named else None
        return result

    def faq_match(self, item: str, normalized: str, questions: Sequence[str], name: str = "") -> int | None:
        """Which of an item's common questions (FAQ) the resident's question asks, if any.

        Words of the item's name (``name``) say which service, not which question, and are
        left out on both sides. A FAQ matches when the question shares at least
        ``FAQ_MIN_SHARE`` of the FAQ's remaining IDF mass and at least ``FAQ_MIN_MASS`` of it
        in all: several rare words, not one; and it must not ask about another aspect (a
        question about materials is not the FAQ on how long it takes). The best match wins.
        """
        norm = self.index.normalizer
        aspect = detect_aspect(normalized)
        named = set(self.content_words(norm(name))) if name else set()
        asked = set(self.content_words(normalized)) - named
        if not asked:
            return None
        best: tuple[float, int] | None = None
        for n, question in enumerate(questions):
            q = norm(question)
            other = detect_aspect(q)
            if aspect is not None and other is not None and other is not aspect:
                continue
            words = set(self.content_words(q)) - named
            total = sum(self._idf[t] for t in words)
            if total <= 0:
                continue
            mass = sum(self._idf[t] for t in words & asked)
            share = mass / total
            if share >= FAQ_MIN_SHARE and mass >= FAQ_MIN_MASS and (best is None or share > best[0]):
                best = (share, n)
        return best[1] if best else None

    def faq_scores(self, normalized: str, texts: Sequence[Sequence[str]], name: str = "") -> list[float]:
        """Each FAQ's score for a follow-up: the best over its texts (the FAQ's q and the follow-ups
        labelled with it) of the lexical overlap plus the weighted dense cosine; a FAQ on another
        aspect than the one asked scores nothing."""
        aspect = detect_aspect(normalized)
        named = self._faq_text(name, "")[1] if name else frozenset()
        asked = set(self.content_words(normalized)) - named
        asked_mass = sum(self._idf[t] for t in asked)
        dense = self.index.dense
        qvec = dense.encode_one(normalized) if dense is not None and normalized else None
        scores: list[float] = []
        for variants in texts:
            best = 0.0
            for n, text in enumerate(variants):
                q, words, vec = self._faq_text(name, text)
                other = detect_aspect(q) if n == 0 else None  # the FAQ's own aspect, from its q
                # (one document asked about may be a FAQ's subject whatever its cue: 照片要自己去拍吗)
                if aspect not in (None, Aspect.DOCUMENT) and other is not None and other is not aspect:
                    break
                words = words - named
                total = sum(self._idf[t] for t in words)
                mass = sum(self._idf[t] for t in words & asked)
                lexical = ((mass / total if total else 0.0) + (mass / asked_mass if asked_mass else 0.0)) / 2
                cosine = float(qvec @ vec) if qvec is not None and vec is not None else 0.0
                best = max(best, lexical + FAQ_DENSE_WEIGHT * cosine)
            scores.append(best)
        return scores

    def _faq_text(self, name: str, text: str) -> tuple[str, frozenset[str], np.ndarray | None]:
        """A FAQ's (or a labelled follow-up's) normalised text, its content words and its dense
        vector (read with the service's name), computed once."""
        key = (name, text)
        cached = self._faq_texts.get(key)
        if cached is None:
            norm, dense = self.index.normalizer, self.index.dense
            q = norm(text or name)
            vec = dense.encode_one(norm(f"{name} {q}")) if dense is not None and text else None
            cached = self._faq_texts[key] = (q, frozenset(self.content_words(q)), vec)
        return cached

    def faq_loose(
        self,
        normalized: str,
        texts: Sequence[Sequence[str]],
        name: str = "",
        minimum: float = FAQ_LOOSE_MIN,
        margin: float = FAQ_LOOSE_MARGIN,
    ) -> int | None:
        """The FAQ a follow-up asks in other words (see FAQ_LOOSE_MIN), or None."""
        return pick_faq(self.faq_scores(normalized, texts, name), minimum, margin)

    def situation_words(self, item: str, exclude: frozenset[str] = frozenset()) -> dict[str, set[str]]:
        """The words of each situation of an item: its name and "when", and (unless switched
        off) the asks whose writers labelled them with that situation; ``exclude`` leaves
        some ask texts out (cross-validation)."""
        key = (item, exclude)
        cached = self._situation_cache.get(key)
        if cached is not None:
            return cached
        tok, norm = self.index.lexical.tokenizer, self.index.normalizer
        words: dict[str, set[str]] = {}
        for i in self._situations.get(item, []):
            entry = self.index.entries[i]
            assert entry.situation is not None
            words.setdefault(entry.situation, set()).update(tok.words(norm(entry.text)))
        if self.config.situation_from_asks:
            for i in self._labelled_asks.get(item, []):
                entry = self.index.entries[i]
                if entry.situation in words and entry.text not in exclude:
                    words[entry.situation].update(tok.words(norm(entry.text)))
        if not exclude:
            self._situation_cache[key] = words
        return words

    def _situation_model(
        self, item: str, exclude: frozenset[str] = frozenset()
    ) -> tuple[dict[str, Counter[str]], set[str]]:
        """Word counts per situation of an item: its name and "when" (counted SITUATION_OWN
        times) and the asks its writers labelled with it (but those in ``exclude``: held out
        by cross-validation); and the item's situation vocabulary."""
        key = (item, exclude)
        cached = self._nb_cache.get(key)
        if cached is not None:
            return cached
        tok, norm = self.index.lexical.tokenizer, self.index.normalizer
        counts: dict[str, Counter[str]] = {}
        for i in self._situations.get(item, []):
            entry = self.index.entries[i]
            assert entry.situation is not None
            words = [w for w in tok.words(norm(entry.text)) if w in self._idf]
            counts.setdefault(entry.situation, Counter()).update({w: SITUATION_OWN for w in set(words)})
        if self.config.situation_from_asks:
            for i in self._labelled_asks.get(item, []):
                entry = self.index.entries[i]
                if entry.situation in counts and entry.text not in exclude:
                    counts[entry.situation].update(set(w for w in tok.words(norm(entry.text)) if w in self._idf))
        vocab = set().union(*counts.values()) if counts else set()
        if exclude and len(self._nb_cache) > 4 * len(self._situations) + 200:
            # a fold's models are asked for over and over, then never again: keep only the shipped ones
            self._nb_cache = {k: v for k, v in self._nb_cache.items() if not k[1]}
        self._nb_cache[key] = (counts, vocab)
        return counts, vocab

    def situation_odds(self, item: str, normalized: str, exclude: frozenset[str] = frozenset()) -> dict[str, float]:
        """Naive Bayes log-likelihood of the question's words under each situation of an item
        (add-one smoothing over the item's situation vocabulary; words no situation has, or
        that every situation has, say nothing and are left out)."""
        counts, vocab = self._situation_model(item, exclude)
        if not counts:
            return {}
        common = set.intersection(*(set(c) for c in counts.values())) if self.config.situation_drop_common else set()
        words = [
            w for w in dict.fromkeys(self.index.lexical.tokenizer.words(normalized)) if w in vocab and w not in common
        ]
        size = len(vocab) or 1
        out = {}
        for situation, c in counts.items():
            total = sum(c.values())
            out[situation] = round(sum(math.log((c[w] + 1) / (total + size)) for w in words), 3)
        return out if words else {}

    def situation_name_words(self, item: str) -> dict[str, str]:
        """Words of exactly one situation's own name (what its editors called it), of two
        characters or more and not generic: word → situation. 到期 for 到期换证, 损坏 for
        证件损坏换证; 换证 is in all three names and says nothing."""
        cached = self._name_word_cache.get(item)
        if cached is not None:
            return cached
        tok, norm = self.index.lexical.tokenizer, self.index.normalizer
        where: dict[str, set[str]] = defaultdict(set)
        for sit, name in self._situation_names.get(item, {}).items():
            for w in tok.words(norm(name)):
                if len(w) >= 2 and self._idf.get(w, 0.0) >= MIN_SALIENCE and not set(w) <= FOLLOW_UP_CHARS:
                    where[w].add(sit)
        out = {w: next(iter(sits)) for w, sits in where.items() if len(sits) == 1}
        self._name_word_cache[item] = out
        return out

    def situation_for(self, item: str, text: str, exclude: frozenset[str] = frozenset()) -> str | None:
        """The situation of a known item that the words of ``text`` determine, if any
        (a typed reply to "您是哪种情况？", or a follow-up that says more); ``exclude``: asks
        the model must not learn from (cross-validation)."""
        return self._situation(item, self.index.normalizer(text), None, {}, exclude)[0]

    def names_situation(self, item: str, text: str, situation: str | None) -> bool:
        """Do the words use the situation's own name (到期 of 到期换证)? A follow-up that only
        leans to a situation ("要不要自己出钱") does not change the one already talked about."""
        if situation is None:
            return False
        said = set(self.index.lexical.tokenizer.words(self.index.normalizer(text)))
        return any(sit == situation and w in said for w, sit in self.situation_name_words(item).items())

    def _situation(
        self,
        item: str,
        normalized: str,
        qvec: np.ndarray | None,
        fused: Mapping[int, float],
        exclude: frozenset[str] = frozenset(),
    ) -> tuple[str | None, dict[str, float]]:
        """Pick the situation within an item, or None when the question does not tell.

        Only words that set a situation apart count (those not shared by all of the item's
        situations), weighted by rarity; a tie or a weak signal leaves it to the dialogue
        to ask which situation applies, instead of guessing.
        """
        ids = self.situation_ids.get(item, ())
        if len(ids) <= 1:
            return (ids[0] if ids else None), {}
        if self.config.situation_model == "nb":
            odds = self.situation_odds(item, normalized, exclude)
            ranked = sorted(odds.items(), key=lambda kv: kv[1], reverse=True)
            margin = ranked[0][1] - ranked[1][1] if len(ranked) > 1 else 0.0
            if len(ranked) > 1 and margin >= self.config.situation_nb_margin:
                return ranked[0][0], odds
            # The question uses a word of one situation's own name (到期 of 到期换证): that
            # situation, on a smaller lead over the best other one (a negative margin would let
            # the name win where the words lean a little the other way).
            name_margin = self.config.situation_name_margin
            if name_margin is not None and len(ranked) > 1:
                said = set(self.index.lexical.tokenizer.words(normalized))
                named = {sit for w, sit in self.situation_name_words(item).items() if w in said}
                sit = next(iter(named)) if len(named) == 1 else None
                if sit in odds and odds[sit] - max(v for o, v in odds.items() if o != sit) >= name_margin:
                    return sit, odds
            return None, odds
        tokens = set(self.index.lexical.tokenizer.words(normalized))
        words = self.situation_words(item, exclude)
        common = set.intersection(*words.values()) if words else set()
        shared: dict[str, int] = defaultdict(int)
        for bag in words.values():
            for t in tokens & bag:
                shared[t] += 1
        scores: dict[str, float] = {}
        for situation, bag in words.items():
            specific = (tokens & bag) - common
            # A word several situations have says less about which one: its rarity is split.
            split = self.config.situation_split
            scores[situation] = round(sum(self._idf.get(t, 0.0) / (shared[t] if split else 1) for t in specific), 3)
        ordered = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        if ordered and ordered[0][1] >= SITUATION_MIN and ordered[0][1] >= SITUATION_RATIO * ordered[1][1]:
            return ordered[0][0], scores
        return None, scores
