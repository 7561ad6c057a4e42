"""Typed models for the guide library: service guides, halls and door plates.

A guide is the single source of truth for one catalogue item. Everything the
assistant says about an item is rendered from these models, so the fields
follow the elements of a Chinese 办事指南 (see ../shared/reference/gov-specs.md
§3.1) written in plain language.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

CODE_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Code = Annotated[str, Field(pattern=CODE_PATTERN, min_length=2, max_length=48)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class MaterialForm(enum.StrEnum):
    """How a material is handed in."""

    ORIGINAL = "原件"
    COPY = "复印件"
    ORIGINAL_AND_COPY = "原件和复印件"
    ELECTRONIC = "电子"
    FILLED_ON_SITE = "现场填写"


class Material(_Model):
    """One thing the resident brings (or fills in) for one situation."""

    name: NonEmpty
    form: MaterialForm
    copies: int = Field(default=1, ge=1, le=20)
    source: NonEmpty = Field(description="where to get it, in plain words")
    notes: str = ""
    skippable_if_shared: bool = Field(
        default=False,
        description="can be skipped when the hall reads it from shared electronic records",
    )
    optional: bool = Field(default=False, description="only needed in the case named in notes")


class Fee(_Model):
    free: bool
    amount: str = Field(default="", description="e.g. 20元; empty when free")
    basis: str = Field(default="", description="legal or pricing basis")

    @model_validator(mode="after")
    def _amount_when_paid(self) -> Fee:
        if not self.free and not self.amount:
            raise ValueError("a fee that is not free needs an amount, e.g. amount: 20元")
        return self


class TimeLimit(_Model):
    legal: NonEmpty = Field(description="法定时限, e.g. 60个工作日")
    promised: NonEmpty = Field(description="承诺时限, e.g. 当场办结 or 10个工作日")
    same_day: bool = Field(default=False, description="即办件: done on the spot")


class TripSaver(enum.StrEnum):
    """What takes a trip off (到办事现场次数)."""

    MAIL = "mail"  # 邮寄: the result is posted, no trip to collect
    PRECHECK = "precheck"  # 网上预审: materials checked online first, no second trip to fill gaps
    ONLINE = "online"  # 全程网办: the whole thing online
    PROXY = "proxy"  # a relative may go instead (the resident's own trips)
    APPOINTMENT = "appointment"  # 预约: book a slot, no wasted trip to a full window


class Trips(_Model):
    """How many times a resident goes in person for one situation (办事指南's 到办事现场次数).

    ``count`` is the usual number of trips (0 = wholly online or by post); ``without`` is
    how many it takes when the resident does not use ``fewer`` (e.g. 2 when collecting in
    person instead of by post). ``why`` says in plain words where the trips happen.
    """

    count: int = Field(ge=0, le=5)
    why: NonEmpty
    fewer: list[TripSaver] = Field(default_factory=list)
    without: int | None = Field(default=None, ge=0, le=5)

    @model_validator(mode="after")
    def _without_is_more(self) -> Trips:
        if self.without is not None and (self.without <= self.count or not self.fewer):
            raise ValueError(
                "trips.without must be more than trips.count, and trips.fewer must say what saves the trips"
            )
        if self.count == 0 and not ({TripSaver.ONLINE, TripSaver.MAIL} & set(self.fewer)):
            raise ValueError(
                "count: 0 (no trip at all) needs fewer: [online] or [mail]: say how it is done without going"
            )
        return self


class StepKind(enum.StrEnum):
    """The icon a step gets in the illustrated flow."""

    PREPARE = "prepare"  # at home: gather the materials
    ONLINE = "online"  # on the phone or computer
    QUEUE = "queue"  # 取号 at the hall
    WINDOW = "window"  # at the window: hand in, photo, fingerprints
    WAIT = "wait"  # wait for the result (days)
    COLLECT = "collect"  # collect at the hall
    POST = "post"  # posted home
    DONE = "done"  # finished


class StepPath(enum.StrEnum):
    BOTH = "both"  # whichever way the resident goes
    HALL = "hall"  # only when going to the hall
    ONLINE = "online"  # only when doing it online


class Step(_Model):
    """One step of the flow: what to do, with which icon, on which path, how long, and whether it is a trip."""

    text: NonEmpty
    kind: StepKind
    path: StepPath = StepPath.BOTH
    takes: str = Field(default="", description="how long this step takes, e.g. 约20分钟 or 10个工作日")
    trip: bool = Field(default=False, description="this step is a trip to a hall")

    @model_validator(mode="after")
    def _trip_at_a_hall(self) -> Step:
        if self.trip and self.kind in (StepKind.ONLINE, StepKind.POST, StepKind.PREPARE, StepKind.WAIT):
            raise ValueError(f"a {self.kind.value} step is not a trip to a hall; set trip: false")
        if self.trip and self.path is StepPath.ONLINE:
            raise ValueError("a step on the online path is not a trip; set path: hall or trip: false")
        return self


class Situation(_Model):
    """A 情形: one real-life case of an item, with its own material list.

    ``fee`` and ``time_limit`` are set only where this case differs from the
    guide's (a damaged ID card costs 40元, an expired one 20元); answers for the
    situation use them, and fall back to the guide's otherwise.
    """

    id: Code
    name: NonEmpty
    when: NonEmpty = Field(description="how the resident recognises this case")
    materials: list[Material] = Field(min_length=1)
    notes: str = ""
    fee: Fee | None = None
    time_limit: TimeLimit | None = None
    trips: Trips


class ReviewStatus(enum.StrEnum):
    DRAFT = "draft"
    VERIFIED = "verified"


class Review(_Model):
    """Who checked this guide against the window's practice, and when.

    A guide is ``draft`` until a named person verifies it; ``compiled_on`` is
    only when the text was written, never a check date.
    """

    status: ReviewStatus = ReviewStatus.DRAFT
    compiled_on: dt.date
    verified_by: str = ""
    verified_on: dt.date | None = None
    next_review: dt.date | None = None

    @model_validator(mode="after")
    def _verified_has_verifier(self) -> Review:
        if self.status is ReviewStatus.VERIFIED and (not self.verified_by or self.verified_on is None):
            raise ValueError(
                "status: verified needs verified_by (the person who checked it) and verified_on (the date); "
                "leave status: draft until someone has checked the guide at the window"
            )
        if self.status is ReviewStatus.DRAFT and (self.verified_by or self.verified_on):
            raise ValueError("a draft guide has no verified_by / verified_on; set status: verified or remove them")
        return self

    def due(self, today: dt.date) -> bool:
        """A verified guide past its next review date is due for another check."""
        return self.status is ReviewStatus.VERIFIED and self.next_review is not None and self.next_review < today


class HallLevel(enum.StrEnum):
    CITY = "city"
    TOWN = "town"
    VILLAGE = "village"


class Where(_Model):
    levels: list[HallLevel] = Field(default_factory=list, description="hall kinds that accept it")
    note: NonEmpty = Field(description="which window, which office, in plain words")
    citywide: bool = Field(default=False, description="全市通办: any hall in the city accepts it")


class ChannelKind(enum.StrEnum):
    PC = "pc"
    MOBILE = "mobile"
    MINIPROGRAM = "miniprogram"
    PHONE = "phone"


class Channel(_Model):
    kind: ChannelKind
    name: NonEmpty
    url: HttpUrl | None = None
    how: str = Field(default="", description="where to tap, in plain words")
    walkthrough: list[NonEmpty] = Field(
        default_factory=list, description="the steps inside the app: which tab, which search word, which button"
    )


class Online(_Model):
    fully_online: bool = Field(description="零跑腿: the whole thing can be done without a trip")
    channels: list[Channel] = Field(default_factory=list)
    note: str = ""


class SelfService(_Model):
    name: NonEmpty
    where: NonEmpty


class FAQ(_Model):
    q: NonEmpty
    a: NonEmpty


class Source(_Model):
    name: NonEmpty
    url: HttpUrl | None = None


class Guide(_Model):
    """A plain-language guide (办事攻略) for one catalogue item."""

    code: Code
    title: NonEmpty
    summary: NonEmpty = Field(description="what this is and who it is for, one paragraph")
    dept: NonEmpty
    eligibility: list[NonEmpty] = Field(min_length=1)
    situations: list[Situation] = Field(min_length=1)
    fee: Fee
    time_limit: TimeLimit
    where: Where
    online: Online
    self_service: list[SelfService] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=2)
    prerequisites: list[Code] = Field(default_factory=list)
    follow_ups: list[Code] = Field(default_factory=list)
    faqs: list[FAQ] = Field(min_length=3)
    tips: list[NonEmpty] = Field(default_factory=list)
    asks: list[NonEmpty] = Field(min_length=8)
    bundle: bool = False
    members: list[Code] = Field(default_factory=list)
    source: Source
    basis: list[NonEmpty] = Field(default_factory=list, description="依据: the rules this guide rests on")
    to_confirm: list[NonEmpty] = Field(
        default_factory=list, description="points only the county can settle, shown as 待窗口确认"
    )
    review: Review
    sample: bool = Field(default=True, description="shipped guides are sample data")

    @model_validator(mode="after")
    def _trips_match_the_steps(self) -> Guide:
        hall_trips = sum(1 for st in self.steps if st.trip)
        most = max((s.trips.without if s.trips.without is not None else s.trips.count) for s in self.situations)
        if most > 0 and hall_trips == 0:
            raise ValueError("a situation takes a trip, but no step has trip: true: mark the steps at the hall")
        if any(st.path is StepPath.ONLINE for st in self.steps) and not self.online.channels:
            raise ValueError("steps on the online path need an online channel (online.channels)")
        return self

    @field_validator("asks")
    @classmethod
    def _asks_distinct(cls, asks: list[str]) -> list[str]:
        seen: set[str] = set()
        for ask in asks:
            if ask in seen:
                raise ValueError(f"the ask {ask!r} is listed twice")
            seen.add(ask)
        return asks

    @model_validator(mode="after")
    def _consistent(self) -> Guide:
        ids = [s.id for s in self.situations]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"situation ids must be unique, repeated: {', '.join(dupes)}")
        if self.bundle and len(self.members) < 2:
            raise ValueError("a bundle (bundle: true) lists at least two member item codes")
        if not self.bundle and self.members:
            raise ValueError("members is only for bundles; set bundle: true or remove members")
        if not self.where.levels and not self.online.fully_online:
            raise ValueError("where.levels is empty but the item cannot be done fully online")
        return self

    def situation(self, situation_id: str | None) -> Situation:
        """The named situation, or the first one when none is named."""
        for s in self.situations:
            if s.id == situation_id:
                return s
        return self.situations[0]

    def fee_for(self, situation_id: str | None) -> Fee:
        """The fee of one situation: its own where it differs, else the guide's."""
        if situation_id is not None:
            own = self.situation(situation_id)
            if own.id == situation_id and own.fee is not None:
                return own.fee
        return self.fee

    def most_trips(self) -> int:
        """The most trips any situation takes (what "最多跑N次" on a list of services says)."""
        return max(s.trips.count for s in self.situations)

    def time_limit_for(self, situation_id: str | None) -> TimeLimit:
        """The time limit of one situation: its own where it differs, else the guide's."""
        if situation_id is not None:
            own = self.situation(situation_id)
            if own.id == situation_id and own.time_limit is not None:
                return own.time_limit
        return self.time_limit


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Session(_Model):
    """One opening period, e.g. 08:00–12:00."""

    start: str
    end: str

    @model_validator(mode="after")
    def _ordered(self) -> Session:
        for value in (self.start, self.end):
            if not _HHMM.match(value):
                raise ValueError(f"time {value!r} must be HH:MM, e.g. 08:30")
        if self.start >= self.end:
            raise ValueError(f"opening {self.start}-{self.end} ends before it starts")
        return self


class OpeningRule(_Model):
    days: list[Weekday] = Field(min_length=1)
    sessions: list[Session] = Field(min_length=1)


class Hall(_Model):
    code: Code
    name: NonEmpty
    level: HallLevel
    town: NonEmpty
    address: NonEmpty
    lng: float = Field(ge=73, le=136)
    lat: float = Field(ge=3, le=54)
    datum: str = Field(pattern="^GCJ-02$", description="coordinates are GCJ-02 (Chinese map apps)")
    phone: NonEmpty
    hours: list[OpeningRule] = Field(min_length=1)
    hours_note: str = ""
    items: list[Code] = Field(min_length=1)


class Holiday(_Model):
    date: dt.date
    name: NonEmpty
    closed: bool = Field(default=True, description="false for a make-up working day (调休上班)")


class HallsFile(_Model):
    datum: str = Field(pattern="^GCJ-02$")
    halls: list[Hall]
    holidays: list[Holiday] = Field(default_factory=list)


class SlotGroup(_Model):
    """One item group of a hall's appointments (预约号源): how many residents per half-hour."""

    id: Code
    name: NonEmpty
    capacity: int = Field(ge=1, le=50, description="residents per half-hour slot")
    items: list[Code] = Field(min_length=1)


class HallSlots(_Model):
    """The slots one hall (``hall``) or every hall of a level (``level``) publishes."""

    hall: Code | None = None
    level: HallLevel | None = None
    groups: list[SlotGroup] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_target(self) -> HallSlots:
        if (self.hall is None) == (self.level is None):
            raise ValueError("give either hall (one hall's code) or level (city, town or village), not both")
        return self


class SlotsFile(_Model):
    """guides/slots.yaml: the appointments halls publish; slots are the halls' opening hours in half-hours."""

    days_ahead: int = Field(7, ge=1, le=30, description="how many days ahead a resident can book")
    slot_minutes: int = Field(30, ge=10, le=120)
    halls: list[HallSlots] = Field(default_factory=list)


class Plate(_Model):
    code: Annotated[str, Field(pattern=r"^[A-Z]{2}\d{6}$")]
    town: NonEmpty
    community: NonEmpty
    address: NonEmpty
    building: str = ""
    lng: float = Field(ge=73, le=136)
    lat: float = Field(ge=3, le=54)

    @property
    def full_address(self) -> str:
        """The address as printed on the plate: street address and building."""
        return self.address + (f" {self.building}" if self.building else "")


def plate_code(raw: str | None) -> str:
    """The one normal form of a typed or scanned plate code: full-width folded, trimmed, upper case."""
    return unicodedata.normalize("NFKC", raw or "").strip().upper()


class CatalogueItem(_Model):
    code: Code
    name: NonEmpty
    dept: NonEmpty
    scope: NonEmpty
    bundle: bool = False


class OutOfScopeTopic(_Model):
    """Something residents ask that no guide covers, and where to go instead."""

    id: Code
    name: NonEmpty
    refer: NonEmpty
    asks: list[NonEmpty] = Field(min_length=3)


class OutOfScopeFile(_Model):
    topics: list[OutOfScopeTopic]


class TaggedAsk(_Model):
    """One way a resident asks for an item, with the style it is written in."""

    q: NonEmpty
    style: Code = Field(description="elderly, relative, indirect, colloquial, short, typo, traditional, english, …")
    situation: Code | None = Field(default=None, description="the situation the words of the ask determine")


class AskBatch(_Model):
    """A writer's batch of asks for one item (guides/asks/<batch>/<item>.yaml).

    Batches are kept apart so retrieval can be cross-validated by writer: a
    threshold tuned on some writers' asks is measured on another writer's.
    """

    item: Code
    batch: Code
    asks: list[TaggedAsk] = Field(min_length=1)


class FaqAsk(_Model):
    """A follow-up as a resident types it, labelled with the guide's common question (FAQ) it
    asks — or with none (``faq: null``: a question about the item that no FAQ answers)."""

    faq: str | None = Field(default=None, description="the FAQ's q, exactly as the guide writes it")
    style: Code
    q: NonEmpty


class FaqAskFile(_Model):
    """A writer's follow-ups for one item (guides/faq_asks/<writer>/<item>.yaml): evidence for
    telling which FAQ a follow-up asks, kept by writer so the matcher can be measured on a
    writer it was not tuned on."""

    item: Code
    writer: Code
    asks: list[FaqAsk] = Field(min_length=1)


class ReferralLevel(enum.StrEnum):
    CITY = "city"
    TOWN = "town"
    VILLAGE = "village"
    DEPT = "dept"
    ONLINE = "online"


class ReferralWhere(_Model):
    level: ReferralLevel
    note: NonEmpty


class OnlineChannel(_Model):
    name: NonEmpty
    how: str = ""
    url: HttpUrl | None = None


class Referral(_Model):
    """One of the county's other services: no full guide yet, but who handles it and how to reach them."""

    id: Code
    name: NonEmpty
    dept: NonEmpty
    where: ReferralWhere
    phone: NonEmpty
    online: OnlineChannel | None = None
    what: NonEmpty = Field(description="one plain sentence of what it is")
    asks: list[NonEmpty] = Field(min_length=5)


class ReferralFile(_Model):
    referrals: list[Referral]


class Lookup(_Model):
    """A resident asking to see their own records: answered with where they can see them."""

    id: Code
    name: NonEmpty
    what: NonEmpty
    channels: list[OnlineChannel] = Field(min_length=1)
    asks: list[NonEmpty] = Field(min_length=5)


class LookupFile(_Model):
    lookups: list[Lookup]
