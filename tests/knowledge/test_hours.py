"""Opening hours: one model for halls and the help desk, read with an injected clock."""

from __future__ import annotations

import datetime as dt

import pytest

from knowledge.hours import (
    CHINA_TZ,
    Clock,
    FixedClock,
    Interval,
    OpeningHours,
    OpenState,
    SystemClock,
    help_desk_hours,
)
from knowledge.schema import Holiday

pytestmark = pytest.mark.unit

HALL_HOURS = "mon-fri 08:00-12:00,14:30-17:30; sat 09:00-12:00"


def at(day: int, hh: int, mm: int = 0) -> dt.datetime:
    # 2026-11-23 is a Monday.
    return dt.datetime(2026, 11, 23 + day, hh, mm, tzinfo=CHINA_TZ)


def staff_on_duty_today(setting: str, now: dt.datetime) -> bool:
    """What web/chat.py's ChatService.staff_on_duty computes today (the behaviour to keep)."""
    if setting == "always":
        return True
    local = now.astimezone(CHINA_TZ)
    start, end = setting.split("-")
    return local.weekday() < 5 and start <= local.strftime("%H:%M") < end


def test_parse_builds_a_week_with_a_lunch_break_as_a_gap() -> None:
    hours = OpeningHours.parse(HALL_HOURS)
    assert hours.week[0] == (Interval(480, 720), Interval(870, 1050))
    assert hours.week[4] == hours.week[0]
    assert hours.week[5] == (Interval(540, 720),)
    assert hours.week[6] == ()


def test_lunch_break_is_closed_until_the_afternoon() -> None:
    hours = OpeningHours.parse(HALL_HOURS)
    assert hours.is_open(at(0, 11, 59))
    assert not hours.is_open(at(0, 12, 30))
    s = hours.status(at(0, 12, 30))
    assert s.state is OpenState.CLOSED and s.label == "已下班，今天14:30开门"
    assert s.until == at(0, 14, 30)


def test_weekend_saturday_morning_open_sunday_closed_until_monday() -> None:
    hours = OpeningHours.parse(HALL_HOURS)
    assert hours.status(at(5, 10)).state is OpenState.OPEN
    s = hours.status(at(6, 10))
    assert s.state is OpenState.CLOSED and s.label == "已下班，明天08:00开门" and s.until == at(7, 8)


def test_holiday_is_closed_and_the_next_opening_skips_it() -> None:
    hours = OpeningHours.parse(HALL_HOURS, [Holiday(date=dt.date(2026, 11, 24), name="测试假日")])
    assert not hours.is_open(at(1, 9))
    assert hours.intervals_on(dt.date(2026, 11, 24)) == []
    s = hours.status(at(0, 18))
    assert s.state is OpenState.CLOSED and s.label == "已下班，后天08:00开门" and s.until == at(2, 8)


def test_make_up_working_day_keeps_monday_hours() -> None:
    hours = OpeningHours.parse(HALL_HOURS, [Holiday(date=dt.date(2026, 11, 29), name="调休上班", closed=False)])
    assert hours.intervals_on(dt.date(2026, 11, 29)) == list(hours.week[0])
    assert hours.is_open(at(6, 9)) and not hours.is_open(at(6, 13))


def test_closing_soon_in_the_last_half_hour() -> None:
    hours = OpeningHours.parse(HALL_HOURS)
    s = hours.status(at(0, 17, 10))
    assert s.state is OpenState.CLOSING_SOON and s.label == "快下班了，17:30关门" and s.until == at(0, 17, 30)
    assert s.is_open
    assert hours.status(at(0, 16, 59)).state is OpenState.OPEN


def test_always_is_open_every_moment() -> None:
    hours = OpeningHours.parse("always")
    assert hours == OpeningHours.always_open()
    for moment in (at(0, 3), at(5, 12, 30), at(6, 23, 59)):
        assert hours.is_open(moment)
        assert hours.status(moment).state is OpenState.OPEN


def test_status_reads_an_injected_clock_in_china_time() -> None:
    hours = OpeningHours.parse(HALL_HOURS)
    clock: Clock = FixedClock(dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC))  # 09:00 in 南安
    assert hours.status(clock.now()).state is OpenState.OPEN
    assert SystemClock().now().tzinfo is not None


def test_nothing_open_soon_says_so() -> None:
    hours = OpeningHours()
    s = hours.status(at(0, 9))
    assert s.state is OpenState.CLOSED and s.label == "近期不办公" and s.until is None


@pytest.mark.parametrize("text", ["mon-fri", "mon-fri 8:30-12:00", "fri-mon 08:00-12:00", "mon 12:00-08:00", "x"])
def test_parse_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError):
        OpeningHours.parse(text)


@pytest.mark.parametrize("setting", ["always", "08:00-18:00", "08:30-17:30", "00:00-24:00", "18:00-08:00"])
def test_help_desk_hours_match_what_the_chat_does_today(setting: str) -> None:
    hours = help_desk_hours(setting)
    start = dt.datetime(2026, 11, 21, 0, 0, tzinfo=CHINA_TZ)  # a Saturday: a weekend, then a week
    for step in range(0, 9 * 24 * 60, 7):  # every 7 minutes for nine days
        now = start + dt.timedelta(minutes=step)
        assert hours.is_open(now) is staff_on_duty_today(setting, now), (setting, now)


def test_help_desk_hours_are_monday_to_friday_and_ignore_holidays_unless_given() -> None:
    hours = help_desk_hours("08:30-17:30")
    assert hours.week[:5] == ((Interval(510, 1050),),) * 5 and hours.week[5:] == ((), ())
    assert hours.is_open(at(0, 8, 30)) and not hours.is_open(at(0, 17, 30)) and not hours.is_open(at(5, 10))
    holiday = [Holiday(date=dt.date(2026, 11, 23), name="测试假日")]
    assert not help_desk_hours("08:30-17:30", holiday).is_open(at(0, 9))


@pytest.mark.parametrize("setting", ["25:00-26:00", "08:61-09:00", "0800-1800", ""])
def test_help_desk_hours_refuse_a_time_that_is_not_a_time_of_day(setting: str) -> None:
    with pytest.raises(ValueError):
        help_desk_hours(setting)
