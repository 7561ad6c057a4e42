"""Hybrid retrieval: lexical + dense → reciprocal rank fusion → items → situation.

The fusion is a pure function (haystack's ``_reciprocal_rank_fusion``); the
retriever ranks items first and then picks the situation within the best item,
detects which aspect the resident asks about, and abstains when nothing fits.
"""

from __future__ import annotations

import enum
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from knowledge.index import LOOKUP_PREFIX, NOT_A_GUIDE, OOS_PREFIX, REFERRAL_PREFIX, EntryKind, Index

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> dict[int, float]:
    """Fuse several rankings of the same ids into one score per id.

    Args:
        rankings: each a list of ids, best first.
        weights: one weight per ranking (default 1 each).
        k: the RRF constant; larger flattens the rank curve.

    Returns:
        id → fused score, higher is better. Scores are scaled so that an id
        ranked first in every ranking scores 1.0.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    total = sum(weights) or 1.0
    fused: dict[int, float] = defaultdict(float)
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, ident in enumerate(ranking):
            fused[ident] += weight / (k + rank + 1)
    scale = (k + 1) / total
    return {ident: score * scale for ident, score in fused.items()}


class Aspect(enum.StrEnum):
    MATERIALS = "materials"
    FEE = "fee"
    TIME = "time"
    WHERE = "where"
    HOURS = "hours"
    ONLINE = "online"
    PROXY = "proxy"  # must I go in person, may a relative go for me
    MAIL = "mail"  # can it be posted
    VALIDITY = "validity"  # how long is it valid


# Checked in this order; the first that matches wins, materials is the default.
ASPECT_PATTERNS: list[tuple[Aspect, re.Pattern[str]]] = [
    (
        Aspect.HOURS,
        re.compile(
            r"几点|开门|关门|上班时间|下班|休息|周六|周日|星期六|星期天|礼拜|周末|节假日|营业时间|中午|午休|还开|开不开|开着|开吗|开放时间"
        ),
    ),
    (
        Aspect.PROXY,
        re.compile(
            r"本人|亲自|代办|代领|代理|委托|家属|家里人|亲属|别人|替我|替他|替她|帮他办|帮她办|帮我办|能代|in person|on behalf"
        ),
    ),
    (
        Aspect.MAIL,
        re.compile(r"邮寄|寄到|寄回|寄给|寄过来|快递到|快递给|邮过来|能寄|可以寄|寄家|post it|mail it|by post"),
    ),
    (Aspect.VALIDITY, re.compile(r"有效期|管几年|管多久|能用多久|用多久|多少年有效|几年有效|有效几年|valid")),
    (
        Aspect.FEE,
        re.compile(
            r"多少钱|收费|费用|费多少|费是多少|要交多少|要钱|交钱|花钱|免费|工本费|几块|多少费|贵不贵|fee|cost|how much"
        ),
    ),
    (Aspect.TIME, re.compile(r"多久|多长时间|几天|当天|时限|多快|要等|什么时候能拿|几个工作日|how long")),
    (Aspect.ONLINE, re.compile(r"网上|线上|手机上|手机办|app|小程序|不用跑|不想跑|在家办|闽政通|微信上|支付宝|online")),
    (Aspect.WHERE, re.compile(r"在哪|哪里办|哪儿|去哪|什么地方|地址|哪个窗口|哪个大厅|怎么走|导航|附近|就近|where")),
    (Aspect.MATERIALS, re.compile(r"带什么|要什么|材料|证件|准备|手续|需要|bring|document")),
]


# Every aspect's cue words: they say what is asked about a service, never which service.
ASPECT_CUES = re.compile("|".join(p.pattern for _, p in ASPECT_PATTERNS))


def detect_aspect(normalized: str) -> Aspect | None:
    """The aspect a resident asks about, or None when the text does not say."""
    for aspect, pattern in ASPECT_PATTERNS:
        if pattern.search(normalized):
            return aspect
    return None


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

    @property
    def top(self) -> Candidate | None:
        return None if self.abstain or not self.candidates else self.candidates[0]

    def as_metadata(self) -> dict[str, object]:
        """The retrieval result as JSON-able message metadata for Rasa."""
        return {
            "abstain": self.abstain,
            "declined_topic": self.declined_topic,
            "names_service": self.named,
            "switch_cue": bool(SWITCH_CUE.search(self.normalized)),
            "confidence": round(self.confidence, 3),
            "aspect": self.aspect.value if self.aspect else None,
            "candidates": [
                {"item": c.item, "score": round(c.score, 3), "situation": c.situation} for c in self.candidates
            ],
        }


# Words that say "I want to do something" but not what: they do not count for coverage.
GENERIC = frozenset(
    [
        "办",
        "办理",
        "申请",
        "手续",
        "材料",
        "准备",
        "需要",
        "带",
        "要带",
        "什么",
        "哪些",
        "怎么",
        "怎样",
        "如何",
        "可以",
        "能",
        "能不能",
        "要",
        "想",
        "去",
        "哪里",
        "在哪",
        "多少",
        "钱",
        "时间",
        "多久",
        "本人",
        "一下",
        "请问",
        "你好",
        "您好",
        "麻烦",
        "谢谢",
        "问",
        "问一下",
        "弄",
        "搞",
        "吗",
        "呢",
        "啊",
        "吧",
        "的",
        "了",
        "我",
        "我们",
        "你",
        "他",
        "她",
        "家里",
        "现在",
        "这个",
        "那个",
        "一个",
        "个",
        "有",
        "没有",
        "是",
        "不是",
        "还",
        "就",
        "都",
        "也",
        "和",
        "跟",
        "给",
        "帮",
        "帮我",
        "告诉",
        "知道",
        "听说",
        "下",
        "上",
        "里",
        "些",
        "东西",
        "证件",
        "手续费",
        "流程",
        "网上",
        "手机",
        "窗口",
        "大厅",
        "地方",
        "情况",
        "问题",
        "事",
        "事情",
        "需",
        "携带",
        "提交",
        "材科",
        "how",
        "what",
        "do",
        "i",
        "my",
        "to",
        "the",
        "a",
        "an",
        "can",
        "need",
        "for",
        "is",
        "of",
        "in",
        "get",
    ]
)


SITUATION_MIN = 2.0  # at least one fairly rare word that only some situations have
SITUATION_RATIO = 1.5  # and clearly more than the next situation
MIN_SALIENCE = 1.5
# Characters of bare follow-ups ("在哪办", "去哪里办", "要多久"): a word made only of these
# names no service, however rare the bigram happens to be in the guides.
FOLLOW_UP_CHARS = frozenset("在去到哪里儿办要得多少钱久几天时候怎么样吗呢啊呀吧了的是有没能可以还请问交缴付那这不")
# "Another thing": the words residents use to move on to another service (另外, 还有, 对了, 那…呢).
SWITCH_CUE = re.compile(r"另外|还有|对了|顺便|再问|换个|另一个|那.{1,12}呢|and also|another")
# "Together, in one trip": the words residents use for a 一件事 bundle.
BUNDLE_CUE = re.compile(
    r"(?<!第)一次办|一起办|一起申请|(?<!第)一次性办|一件事|联办|打包|一趟就|一块办|一并办|一次全办|一条龙"
)  # IDF over items; 多少钱 is 1.3, 身份证 1.3, 低保 2.8


@dataclass(frozen=True)
class Calibration:
    """Logistic map from the confidence features to P(top item is right).

    Features: coverage of the question by the top item, log1p(best BM25), fusion margin, and
    how close the nearest entry without a guide (out-of-scope, referral, look-up) comes to the
    top item (its score over the top score): a question near a service we do not cover is more
    likely about another one we do not cover. A calibration saved with fewer weights (an older
    index) uses the features it knows.
    """

    weights: tuple[float, ...] = (6.0, 0.3, 2.0, 0.0)
    bias: float = -6.0

    def __call__(self, features: Sequence[float]) -> float:
        z = self.bias + sum(w * f for w, f in zip(self.weights, features, strict=False))
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class RetrieverConfig:
    lexical_weight: float = 1.0
    dense_weight: float = 0.3
    top_k: int = 60
    candidates: int = 3
    abstain_threshold: float = 0.35
    situation_margin: float = 0.04
    situation_from_asks: bool = True  # situation words also from the asks labelled with it
    situation_split: bool = False  # divide a word's weight by the number of situations that have it
    item_decay: float = 0.5  # an item's n-th best entry counts decay**n: agreement is evidence


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
    ) -> None:
        self.index = index
        self.bundles = dict(bundles or {})
        self.config = config or RetrieverConfig()
        saved = index.calibration
        self.calibration = calibration or (
            Calibration(tuple(saved["weights"]), saved["bias"]) if saved else Calibration()
        )
        self._situations: dict[str, list[int]] = defaultdict(list)
        self._labelled_asks: dict[str, list[int]] = defaultdict(list)
        self._situation_cache: dict[tuple[str, frozenset[str]], dict[str, set[str]]] = {}
        by_item: dict[str, list[int]] = defaultdict(list)
        for i, entry in enumerate(index.entries):
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
        # Inverse document frequency over items: a token every item has says nothing.
        df = np.bincount(
            np.concatenate([np.zeros(0, np.int32), *self._vocab.values()]), minlength=len(corpus.vocab)
        ).tolist()
        n = len(self._vocab)
        self._idf = {
            t: math.log((n + 1) / (d + 0.5)) for t, d in zip(corpus.vocab, df, strict=True) if d and t not in GENERIC
        }
        self.situation_ids = situations or {}

    def _item_has(self, item: str, token: str) -> bool:
        ids = self._vocab.get(item)
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

    def coverage(self, normalized: str, item: str) -> tuple[float, float]:
        """IDF-weighted share of the question's known tokens that the item's entries contain,
        and how much the question says at all (the IDF mass of those tokens, log-scaled)."""
        tokens = self.content_words(normalized)
        total = sum(self._idf[t] for t in tokens)
        if total <= 0:
            return 0.0, 0.0
        return sum(self._idf[t] for t in tokens if self._item_has(item, t)) / total, math.log1p(total)

    def rank(
        self, normalized: str, *, lexical: bool = True, dense: bool = True, exclude: frozenset[int] = frozenset()
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
            qvec = self.index.dense.encode([normalized])[0]
            dense_hits = [h for h in self.index.dense.search_vector(qvec, k) if h[0] not in exclude]
        fused = reciprocal_rank_fusion(
            [[i for i, _ in lex_hits], [i for i, _ in dense_hits]],
            [cfg.lexical_weight if lex_hits else 0.0, cfg.dense_weight if dense_hits else 0.0],
        )
        # An item scores by its best entries (each next one counts half as much): several
        # entries of one item agreeing is evidence, a single lucky match is less.
        per_item: dict[str, list[float]] = defaultdict(list)
        for ident, score in fused.items():
            per_item[self.index.entries[ident].item].append(score)
        item_scores = {}
        decay = cfg.item_decay
        norm = sum(decay**n for n in range(4))
        for item, scores in per_item.items():
            scores.sort(reverse=True)
            item_scores[item] = sum(v * (decay**n) for n, v in enumerate(scores[:4])) / norm
        ranked = sorted(item_scores.items(), key=lambda kv: kv[1], reverse=True)
        features: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
        if ranked:
            top = ranked[0][0]
            coverage, _ = self.coverage(normalized, top)
            best_bm25 = max((s for i, s in lex_hits if self.index.entries[i].item == top), default=0.0)
            margin = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0)
            near = next((score for item, score in ranked if item.startswith(NOT_A_GUIDE)), 0.0)
            features = (coverage, math.log1p(best_bm25), margin, near / ranked[0][1] if ranked[0][1] else 0.0)
        return Ranking(ranked, features, fused, qvec, dense_on)

    def search(self, query: str, *, lexical: bool = True, dense: bool = True) -> RetrievalResult:
        """Rank items for a question; switch a side off to measure the other alone."""
        cfg = self.config
        normalized = self.index.normalizer(query)
        aspect = detect_aspect(normalized)
        r = self.rank(normalized, lexical=lexical, dense=dense)
        confidence = self.calibration(r.features) if r.ranked else 0.0
        top_name = r.ranked[0][0] if r.ranked else ""
        declined = declined_key(top_name)
        ranked = self._prefer_bundle(normalized, r.ranked)
        if ranked is not r.ranked:
            r = Ranking(ranked, r.features, r.fused, r.qvec, r.dense_used)
        named = self.names_something(normalized)
        abstain = not r.ranked or declined is not None or confidence < cfg.abstain_threshold or not named
        real = [(item, score) for item, score in r.ranked if not item.startswith(NOT_A_GUIDE)]
        candidates = []
        sit_scores: dict[str, float] = {}
        for n, (item, score) in enumerate(real[: cfg.candidates]):
            situation = None
            if n == 0:
                situation, sit_scores = self._situation(item, normalized, r.qvec, r.fused)
            candidates.append(Candidate(item, round(score, 4), situation))
        result = RetrievalResult(
            query, normalized, candidates, confidence, abstain, aspect, r.dense_used, sit_scores, named=named
        )
        # A question that names nothing ("在哪办") is a follow-up, not a request for an out-of-scope topic.
        result.declined_topic = declined if named else None
        return result

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

    def situation_for(self, item: str, text: str) -> str | None:
        """The situation of a known item that the words of ``text`` determine, if any
        (a typed reply to "您是哪种情况？", or a follow-up that says more)."""
        return self._situation(item, self.index.normalizer(text), None, {})[0]

    def _situation(
        self, item: str, normalized: str, qvec: np.ndarray | None, fused: Mapping[int, float]
    ) -> tuple[str | None, dict[str, float]]:
        """Pick the situation within an item, or None when the question does not tell.

        Only words that set a situation apart count (those not shared by all of the item's
        situations), weighted by rarity; a tie or a weak signal leaves it to the dialogue
        to ask which situation applies, instead of guessing.
        """
        ids = self.situation_ids.get(item, ())
        if len(ids) <= 1:
            return (ids[0] if ids else None), {}
        tokens = set(self.index.lexical.tokenizer.words(normalized))
        words = self.situation_words(item)
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
