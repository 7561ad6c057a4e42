"""The one working-day calendar both deadline clocks count in: weekends, holidays, 调休 make-up days."""

from __future__ import annotations

import datetime as dt

import pytest

from knowledge.hours import CHINA_TZ, WorkingDays, china_today
from knowledge.schema import Holiday

pytestmark = pytest.mark.unit

D = dt.date


def test_working_days_skip_the_weekend() -> None:
    cal = WorkingDays()
    # 2026-11-27 is a Friday: two working days later is Tuesday, not Sunday.
    assert cal.add(D(2026, 11, 27), 2) == D(2026, 12, 1)
    assert cal.add(D(2026, 11, 23), 4) == D(2026, 11, 27)  # Monday + 4 = Friday, same week
    assert cal.add(D(2026, 11, 28), 1) == D(2026, 11, 30)  # asked on a Saturday: Monday is the first day
    assert cal.add(D(2026, 11, 27), 0) == D(2026, 11, 27)


def test_working_days_skip_a_closed_holiday() -> None:
    cal = WorkingDays.of([Holiday(date=D(2026, 12, 1), name="测试假日", closed=True)])
    assert not cal.is_working(D(2026, 12, 1))
    assert cal.add(D(2026, 11, 27), 2) == D(2026, 12, 2)  # Fri → Mon, (Tue is a holiday), Wed


def test_a_make_up_working_day_counts_even_on_a_weekend() -> None:
    cal = WorkingDays.of([Holiday(date=D(2026, 11, 28), name="调休上班", closed=False)])
    assert cal.is_working(D(2026, 11, 28))  # a Saturday
    assert cal.add(D(2026, 11, 27), 2) == D(2026, 11, 30)  # Fri → Sat (调休), Mon


def test_the_citys_calendar_from_the_halls_file(library) -> None:  # type: ignore[no-untyped-def]
    cal = WorkingDays.of(library.holidays)
    # 国庆: 2026-10-01..07 closed, 2026-10-10 (Saturday) a make-up working day.
    assert not cal.is_working(D(2026, 10, 5))
    assert cal.is_working(D(2026, 10, 10))
    # 5 working days from Wednesday 30 September: 8 (Thu), 9 (Fri), 10 (Sat 调休), 12 (Mon), 13 (Tue).
    assert cal.add(D(2026, 9, 30), 5) == D(2026, 10, 13)


def test_overdue_only_after_the_whole_due_day() -> None:
    cal = WorkingDays()
    assert not cal.overdue(D(2026, 12, 1), D(2026, 12, 1))
    assert cal.overdue(D(2026, 12, 1), D(2026, 12, 2))


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        WorkingDays().add(D(2026, 12, 1), -1)


def test_the_day_is_chinas_day() -> None:
    # 17:30 UTC on 1 December is 01:30 on 2 December in China.
    assert china_today(dt.datetime(2026, 12, 1, 17, 30, tzinfo=dt.UTC)) == D(2026, 12, 2)
    assert china_today(dt.datetime(2026, 12, 2, 1, 30, tzinfo=CHINA_TZ)) == D(2026, 12, 2)
