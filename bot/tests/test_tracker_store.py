"""The SQLite tracker store reads and writes exactly the rows Rasa's SQLTrackerStore does.

Both stores run on the same database file: what one saves, the other loads back
the same, across conversation sessions. Run with .venv-bot.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any, List

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from sqlite_tracker_store import SQLiteTrackerStore

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [ask_service, ask_fee]
slots:
  item: {type: text, influence_conversation: false, mappings: [{type: custom}]}
"""
)


def turn(text: str, intent: str, item: str, at: float) -> List[Any]:
    return [
        UserUttered(text, {"name": intent, "confidence": 0.9}, [], timestamp=at),
        ActionExecuted("action_answer_service", timestamp=at + 0.1),
        SlotSet("item", item, timestamp=at + 0.2),
        BotUttered(metadata={"custom": {"kind": "answer", "item": item}}, timestamp=at + 0.3),
        ActionExecuted("action_listen", timestamp=at + 0.4),
    ]


def session(at: float) -> List[Any]:
    return [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at + 0.01),
            ActionExecuted("action_listen", timestamp=at + 0.02)]


def stores(path: Path) -> tuple[SQLiteTrackerStore, SQLTrackerStore]:
    ours = SQLiteTrackerStore(DOMAIN, db=str(path))
    theirs = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path))
    return ours, theirs


def states(tracker: DialogueStateTracker | None) -> List[dict]:
    assert tracker is not None
    return [e.as_dict() for e in tracker.events]


@pytest.mark.parametrize("writer", ["ours", "theirs"])
def test_trackers_round_trip_the_same_through_either_store(tmp_path: Path, writer: str) -> None:
    ours, theirs = stores(tmp_path / "tracker.db")
    write = ours if writer == "ours" else theirs
    now = time.time()
    tracker = DialogueStateTracker.from_events("resident-1", [*session(now), *turn("换身份证要带什么", "ask_service", "id-card-renew", now + 1)], DOMAIN.slots)
    asyncio.run(write.save(tracker))
    # As Rasa does each turn: load the conversation, add a turn, save. Only new events are stored.
    tracker = asyncio.run(write.retrieve("resident-1"))
    for event in [*turn("那要多少钱", "ask_fee", "id-card-renew", now + 2), *turn("结婚登记", "ask_service", "marriage", now + 3)]:
        tracker.update(event)
    asyncio.run(write.save(tracker))

    expected = states(tracker)
    assert expected[0]["event"] == "session_started" and len(expected) == 17
    assert states(asyncio.run(ours.retrieve("resident-1"))) == expected
    assert states(asyncio.run(theirs.retrieve("resident-1"))) == expected
    full = states(asyncio.run(ours.retrieve_full_tracker("resident-1")))
    assert full == states(asyncio.run(theirs.retrieve_full_tracker("resident-1")))
    assert full[0]["name"] == "action_session_start" and full[1:] == expected
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        rows = db.execute("SELECT type_name, intent_name, action_name FROM events ORDER BY id").fetchall()
    assert len(rows) == 18  # nothing stored twice
    assert rows[3] == ("user", "ask_service", None)
    assert rows[4] == ("action", None, "action_answer_service")
    assert asyncio.run(ours.retrieve("nobody")) is None


def test_only_the_latest_session_is_loaded_and_counted(tmp_path: Path) -> None:
    ours, theirs = stores(tmp_path / "tracker.db")
    now = time.time()
    old = [*session(now - 7200), *turn("换身份证要带什么", "ask_service", "id-card-renew", now - 7100)]
    tracker = DialogueStateTracker.from_events("resident-2", old, DOMAIN.slots)
    asyncio.run(ours.save(tracker))
    # A new session starts: the tracker Rasa then holds is the new session only.
    tracker = asyncio.run(ours.retrieve("resident-2"))
    for event in session(now):
        tracker.update(event)
    asyncio.run(ours.save(tracker))
    fresh = asyncio.run(ours.retrieve("resident-2"))
    assert fresh is not None and len(fresh.events) == 2  # session_started, action_listen
    for event in turn("结婚登记", "ask_service", "marriage", now + 1):
        fresh.update(event)
    asyncio.run(ours.save(fresh))

    assert states(asyncio.run(ours.retrieve("resident-2"))) == states(fresh)
    assert states(asyncio.run(ours.retrieve("resident-2"))) == states(asyncio.run(theirs.retrieve("resident-2")))
    full_ours = states(asyncio.run(ours.retrieve_full_tracker("resident-2")))
    full_theirs = states(asyncio.run(theirs.retrieve_full_tracker("resident-2")))
    assert full_ours == full_theirs
    assert len(full_ours) == len(old) + 1 + len(fresh.events)  # + the new session's action_session_start
