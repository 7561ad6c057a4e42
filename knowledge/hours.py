"""Opening hours: one model for the halls and the help desk, and the clock it is read with.

``OpeningHours`` is a weekly schedule (per weekday a list of open intervals, so a lunch
break is a gap), the holidays (closed days, and make-up working days that keep Monday's
hours) and a way to say "always open". Its status functions take an explicit ``now``;
callers get it from an injected ``Clock`` (``SystemClock`` by default), never from
``datetime.now`` scattered about. Times are China time (``CHINA_TZ``); a naive ``now``
is read as China time.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from knowledge.schema import Holiday, OpeningRule, Weekday

CHINA_TZ = ZoneInfo("Asia/Shanghai")
CLOSING_SOON = dt.timedelta(minutes=30)
WEEKDAYS = [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI, Weekday.SAT, Weekday.SUN]
DAY_NAMES = {Weekday.MON: "一", Weekday.TUE: "二", Weekday.WED: "三", Weekday.THU: "四"}
DAY_NAMES |= {Weekday.FRI: "五", Weekday.SAT: "六", Weekday.SUN: "日"}
ALWAYS = "always"  # the help-desk setting for 7x24
DAY_MINUTES = 24 * 60
_HHMM = re.compile(r"^(\d\d):(\d\d)$")


class Clock(Protocol):
    """Where "now" comes from: an aware datetime."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The real clock (UTC, aware)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at one moment (tests, replays)."""

    at: dt.datetime

    def now(self) -> dt.datetime:
        return self.at


def minutes(hhmm: str) -> int:
    """Minutes after midnight of "HH:MM" (00:00 to 24:00); ValueError otherwise."""
    match = _HHMM.match(hhmm.strip())
    if match is None:
        raise ValueError(f"time {hhmm!r} must be HH:MM, e.g. 08:30")
    hh, mm = int(match[1]), int(match[2])
    if mm > 59 or hh * 60 + mm > DAY_MINUTES:
        raise ValueError(f"time {hhmm!r} is not a time of day (00:00 to 24:00)")
    return hh * 60 + mm


def hhmm(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


@dataclass(frozen=True, order=True)
class Interval:
    """One opening period of a day, in minutes after midnight: open from start, closed at end."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= DAY_MINUTES:
            raise ValueError(f"opening {hhmm(self.start)}-{hhmm(self.end)} ends before it starts")

    @classmethod
    def parse(cls, text: str) -> Interval:
        """ "08:30-12:00" → Interval."""
        start, sep, end = text.strip().partition("-")
        if not sep:
            raise ValueError(f"opening {text!r} must be HH:MM-HH:MM, e.g. 08:30-12:00")
        return cls(minutes(start), minutes(end))

    def times(self) -> tuple[dt.time, dt.time]:
        """As times of day (an interval ending at 24:00 ends at 23:59:59.999999)."""
        end = dt.time.max if self.end == DAY_MINUTES else dt.time(self.end // 60, self.end % 60)
        return dt.time(self.start // 60, self.start % 60), end

    def __str__(self) -> str:
        return f"{hhmm(self.start)}-{hhmm(self.end)}"


class OpenState(enum.StrEnum):
    OPEN = "open"
    CLOSING_SOON = "closing_soon"
    CLOSED = "closed"


@dataclass(frozen=True)
class OpenStatus:
    """Open now, closing soon (``until`` it closes) or closed (``until`` it opens, if known)."""

    state: OpenState
    label: str
    until: dt.datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state is not OpenState.CLOSED


def local(now: dt.datetime) -> dt.datetime:
    """``now`` in China time (a naive datetime is taken as China time already)."""
    return now.astimezone(CHINA_TZ) if now.tzinfo else now.replace(tzinfo=CHINA_TZ)


def _at(day: dt.date, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), CHINA_TZ) + dt.timedelta(minutes=minute)


def _day_word(today: dt.date, day: dt.date) -> str:
    delta = (day - today).days
    if delta == 0:
        return "今天"
    if delta == 1:
        return "明天"
    if delta == 2:
        return "后天"
    return f"{day.month}月{day.day}日（{'一二三四五六日'[day.weekday()]}）"


_WEEK_RANGE = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?$")


@dataclass(frozen=True)
class OpeningHours:
    """A weekly schedule with holidays, or always open.

    ``week`` has seven entries, Monday first, each the day's open intervals in order. On a
    closed holiday nothing is open; on a make-up working day (a holiday with
    ``closed: false``) Monday's intervals apply.
    """

    week: tuple[tuple[Interval, ...], ...] = ((),) * 7
    holidays: Mapping[dt.date, Holiday] = field(default_factory=dict)
    always: bool = False

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a week has seven days, Monday first")

    @classmethod
    def always_open(cls) -> OpeningHours:
        return cls(always=True)

    @classmethod
    def from_rules(cls, rules: Iterable[OpeningRule], holidays: Iterable[Holiday] = ()) -> OpeningHours:
        """A hall's opening rules (days + sessions) as a schedule."""
        week: list[list[Interval]] = [[] for _ in WEEKDAYS]
        for rule in rules:
            for day in rule.days:
                week[WEEKDAYS.index(day)] += [Interval(minutes(s.start), minutes(s.end)) for s in rule.sessions]
        return cls(tuple(tuple(sorted(day)) for day in week), {h.date: h for h in holidays})

    @classmethod
    def parse(cls, text: str, holidays: Iterable[Holiday] = ()) -> OpeningHours:
        """Hours written as text: "always", or day groups with intervals separated by ";", e.g.
        "mon-fri 08:30-12:00,14:00-17:30; sat 09:00-12:00" (a lunch break is a gap)."""
        if text.strip().lower() == ALWAYS:
            return cls(always=True, holidays={h.date: h for h in holidays})
        week: list[list[Interval]] = [[] for _ in WEEKDAYS]
        for part in filter(None, (p.strip() for p in text.split(";"))):
            days_text, _, intervals_text = part.partition(" ")
            match = _WEEK_RANGE.match(days_text.strip().lower())
            if match is None or not intervals_text.strip():
                raise ValueError(f"opening hours {part!r} must be like 'mon-fri 08:30-12:00,14:00-17:30'")
            first = WEEKDAYS.index(Weekday(match[1]))
            last = WEEKDAYS.index(Weekday(match[2] or match[1]))
            if last < first:
                raise ValueError(f"days {days_text!r} must run forward, e.g. mon-fri")
            intervals = [Interval.parse(i) for i in intervals_text.split(",") if i.strip()]
            for n in range(first, last + 1):
                week[n] += intervals
        return cls(tuple(tuple(sorted(day)) for day in week), {h.date: h for h in holidays})

    def intervals_on(self, day: dt.date) -> list[Interval]:
        """The open intervals of one day (none on a holiday, Monday's on a make-up working day)."""
        if self.always:
            return [Interval(0, DAY_MINUTES)]
        holiday = self.holidays.get(day)
        if holiday is not None and holiday.closed:
            return []
        weekday = 0 if holiday is not None else day.weekday()  # make-up working day: weekday hours
        return list(self.week[weekday])

    def is_open(self, now: dt.datetime) -> bool:
        """Open at ``now``."""
        if self.always:
            return True
        at = local(now)
        minute = at.hour * 60 + at.minute
        return any(i.start <= minute < i.end for i in self.intervals_on(at.date()))

    def next_opening(self, now: dt.datetime, days: int = 15) -> dt.datetime | None:
        """The first opening after ``now`` within ``days`` days (None: none that soon)."""
        at = local(now)
        for offset in range(days):
            day = at.date() + dt.timedelta(days=offset)
            for interval in self.intervals_on(day):
                start = _at(day, interval.start)
                if start > at:
                    return start
        return None

    def status(self, now: dt.datetime) -> OpenStatus:
        """Open now, closing within ``CLOSING_SOON``, or closed until the next opening."""
        if self.always:
            return OpenStatus(OpenState.OPEN, "全天开放", None)
        at = local(now)
        today = at.date()
        for interval in self.intervals_on(today):
            start, end = _at(today, interval.start), _at(today, interval.end)
            if start <= at < end:
                if end - at <= CLOSING_SOON:
                    return OpenStatus(OpenState.CLOSING_SOON, f"快下班了，{hhmm(interval.end)}关门", end)
                return OpenStatus(OpenState.OPEN, f"正在办公，{hhmm(interval.end)}前可办", end)
        opening = self.next_opening(at)
        if opening is None:
            return OpenStatus(OpenState.CLOSED, "近期不办公", None)
        return OpenStatus(OpenState.CLOSED, f"已下班，{_day_word(today, opening.date())}{opening:%H:%M}开门", opening)


def rules_text(rules: Sequence[OpeningRule]) -> str:
    """Opening rules in plain words, e.g. 周一至周五 08:00-12:00、14:30-17:30."""
    parts = []
    for rule in rules:
        days = rule.days
        if len(days) > 2 and [WEEKDAYS.index(d) for d in days] == list(
            range(WEEKDAYS.index(days[0]), WEEKDAYS.index(days[-1]) + 1)
        ):
            label = f"周{DAY_NAMES[days[0]]}至周{DAY_NAMES[days[-1]]}"
        else:
            label = "、".join(f"周{DAY_NAMES[d]}" for d in days)
        parts.append(label + " " + "、".join(f"{s.start}-{s.end}" for s in rule.sessions))
    return "；".join(parts)


def help_desk_hours(setting: str, holidays: Iterable[Holiday] = ()) -> OpeningHours:
    """The help desk's hours from ``MENPAI_STAFF_HOURS``, as the chat reads it today.

    "always" is 7x24; "HH:MM-HH:MM" is that interval Monday to Friday (China time), with no
    holidays unless given. An interval that ends before it starts is never open, as the
    string comparison of the chat made it; a time that is not a time of day (25:00, 08:61)
    is a ValueError.
    """
    if setting.strip() == ALWAYS:
        return OpeningHours(always=True, holidays={h.date: h for h in holidays})
    start_text, sep, end_text = setting.partition("-")
    if not sep:
        raise ValueError(f"staff hours {setting!r} must be 'always' or HH:MM-HH:MM, e.g. 08:00-18:00")
    start, end = minutes(start_text), minutes(end_text)
    day = (Interval(start, end),) if start < end else ()
    return OpeningHours((day,) * 5 + ((), ()), {h.date: h for h in holidays})


@dataclass(frozen=True)
class WorkingDays:
    """The working-day calendar both deadline clocks count in (好差评 rectification, 12345 work orders).

    Monday to Friday are working days, except a closed holiday; a make-up working day (调休上班,
    a holiday with ``closed: false``) is one even on a weekend. The holidays are the city's, from
    the same data file as the halls' hours (guides/halls.yaml), so a county replaces one calendar.
    """

    holidays: Mapping[dt.date, Holiday] = field(default_factory=dict)

    @classmethod
    def of(cls, holidays: Iterable[Holiday]) -> WorkingDays:
        return cls({h.date: h for h in holidays})

    def is_working(self, day: dt.date) -> bool:
        holiday = self.holidays.get(day)
        if holiday is not None:
            return not holiday.closed
        return day.weekday() < 5

    def add(self, start: dt.date, days: int) -> dt.date:
        """The day ``days`` working days after ``start`` (``start`` itself does not count; 0: ``start``).

        A deadline of "N working days" from a request on ``start`` is ``add(start, N)``: a request
        on a Friday with 2 working days is due on Tuesday.
        """
        if days < 0:
            raise ValueError(f"working days must not be negative, got {days}")
        day, left = start, days
        while left:
            day += dt.timedelta(days=1)
            if self.is_working(day):
                left -= 1
        return day

    def overdue(self, due_on: dt.date, today: dt.date) -> bool:
        """Past its due day: the whole due day is still in time."""
        return today > due_on


def china_today(now: dt.datetime) -> dt.date:
    """The date in China at ``now`` (deadlines are counted in China's days)."""
    return local(now).date()
