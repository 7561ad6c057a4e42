"""When a chat goes to a person, and what the resident is told meanwhile: the handoff policy.

The state machine (bot → waiting → agent → resolved) is ``web.chat.handoff``; this module
decides *when* to use it on web's side: an explicit request (the "找人工帮办" button, or words
asking for a person when Rasa is down), whether staff are on duty (the help desk's opening
hours), and the queue message (place in the queue and expected wait, or "leave a message"
after hours). Rasa decides the rest (two failed attempts, a complaint) and says so with a
``handoff`` payload.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from knowledge.hours import Clock, OpeningHours, SystemClock, help_desk_hours
from web.render.messages import ChatMessage, MessageKind
from web.render.sentences import SAY

WAIT_MINUTES_PER_PLACE = 3


@dataclass
class HandoffPolicy:
    """Staff hours as the setting gives them (``HH:MM-HH:MM`` on working days, or ``always``), read
    into the one opening-hours model; the clock is injected (tests pin it)."""

    staff_hours: str = "08:00-18:00"
    clock: Clock = field(default_factory=SystemClock)
    video_help_url: str = ""  # 视频办: offered with the queue message while staff are on duty

    def __post_init__(self) -> None:
        self.hours: OpeningHours = help_desk_hours(self.staff_hours)

    def on_duty(self, now: dt.datetime | None = None) -> bool:
        return self.hours.is_open(now or self.clock.now())

    def queue_message(self, position: int, now: dt.datetime | None = None, *, staffed: bool = True) -> ChatMessage:
        """What a resident waiting for a person is told: the queue, or leave a message after hours.

        ``staffed``: someone is online (``web.chat.routing``); when nobody is, the resident is told so
        at once and offered the callback message, and keeps their place in the queue.
        """
        if not self.on_duty(now):
            return ChatMessage(MessageKind.TEXT, SAY["after_hours"].format(hours=self.staff_hours), offer_message=True)
        minutes = max(1, position) * WAIT_MINUTES_PER_PLACE
        if not staffed:
            return ChatMessage(
                MessageKind.TEXT,
                SAY["nobody_online"],
                queue={"position": position, "expected_minutes": minutes},
                offer_message=True,
            )
        text = SAY["waiting"].format(ahead=max(0, position - 1), minutes=minutes)
        if self.video_help_url:
            text += SAY["video_help"].format(url=self.video_help_url)
        return ChatMessage(
            MessageKind.TEXT,
            text,
            queue={"position": position, "expected_minutes": minutes},
            offer_message=True,
        )
