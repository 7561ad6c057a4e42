"""跑几次 (到办事现场次数) per situation and the structured steps: validated, and true to the guide."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from knowledge.library import Library
from knowledge.retrieval import Aspect, detect_aspect
from knowledge.schema import Guide, Step, StepKind, StepPath, Trips, TripSaver


def test_every_situation_of_every_guide_says_how_many_trips(library: Library) -> None:
    for guide in library.guides.values():
        for s in guide.situations:
            assert s.trips.why, (guide.code, s.id)
        if guide.online.fully_online:
            # 全程网办: some case is done without going (count 0, or 0 with the online way)
            assert any(s.trips.count == 0 or "online" in s.trips.fewer for s in guide.situations), guide.code
        assert any(st.trip for st in guide.steps) or guide.most_trips() == 0, guide.code


def test_trip_steps_cover_the_most_trips_a_situation_takes(library: Library) -> None:
    for guide in library.guides.values():
        most = max((s.trips.without if s.trips.without is not None else s.trips.count) for s in guide.situations)
        assert sum(st.trip for st in guide.steps) >= min(most, 1), guide.code


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": 0, "why": "网上办"}, "count: 0"),
        ({"count": 1, "why": "去一次", "without": 1, "fewer": ["mail"]}, "without"),
        ({"count": 1, "why": "去一次", "without": 2}, "without"),
    ],
)
def test_trips_that_do_not_add_up_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Trips.model_validate(fields)


def test_online_and_post_steps_are_never_a_trip() -> None:
    with pytest.raises(ValidationError, match="not a trip"):
        Step(text="在闽政通预约", kind=StepKind.ONLINE, trip=True)
    with pytest.raises(ValidationError, match="not a trip"):
        Step(text="到窗口", kind=StepKind.WINDOW, path=StepPath.ONLINE, trip=True)
    assert Trips(count=0, why="全程网办", fewer=[TripSaver.ONLINE]).count == 0


def test_a_guide_whose_situation_takes_a_trip_must_mark_the_trip_step(library: Library) -> None:
    g = library.guides["id-card-renew"]
    data = g.model_dump(mode="json")
    for st in data["steps"]:
        st["trip"] = False
    with pytest.raises(ValidationError, match="trip: true"):
        Guide.model_validate(data)


@pytest.mark.parametrize(
    ("said", "aspect"),
    [
        ("换身份证要跑几趟", Aspect.TRIPS),
        ("这个要去几次啊", Aspect.TRIPS),
        ("能不能一次办好", Aspect.TRIPS),
        ("网上能办吗不用跑", Aspect.ONLINE),
    ],
)
def test_trip_questions_are_their_own_aspect(said: str, aspect: Aspect) -> None:
    assert detect_aspect(said) is aspect
