"""The handoff state machine: bot → waiting → agent → resolved (or back to bot).

Pure: no I/O. The store applies a transition only when the row is still in
the state the transition starts from (compare-and-set), so two staff claiming
at once cannot both win.
"""

from __future__ import annotations

import enum
import re

from knowledge.errors import MenpaiError


class Mode(enum.StrEnum):
    BOT = "bot"
    WAITING = "waiting"
    AGENT = "agent"
    RESOLVED = "resolved"


class HandoffEvent(enum.StrEnum):
    REQUEST = "request"  # the resident asks, the bot fails twice, or a complaint
    CLAIM = "claim"  # a staff member takes the chat
    TRANSFER = "transfer"  # to another staff member (stays with an agent)
    RELEASE = "release"  # the agent puts it back in the queue
    RESOLVE = "resolve"  # the agent closes it
    BACK_TO_BOT = "back_to_bot"  # the agent (or a timeout) hands it back to the bot
    LEAVE_MESSAGE = "leave_message"  # the resident gives up waiting and leaves a callback ticket
    REOPEN = "reopen"  # the resident writes again after a resolved chat
    WITHDRAW = "withdraw"  # the resident stops waiting before anyone took the chat ("算了，我自己问")


class IllegalTransition(MenpaiError):
    status = 409
    code = "illegal_transition"

    def __init__(self, mode: Mode, event: HandoffEvent) -> None:
        self.mode = mode
        self.event = event
        super().__init__(f"cannot {event.value} a chat that is {mode.value}")


TRANSITIONS: dict[tuple[Mode, HandoffEvent], Mode] = {
    (Mode.BOT, HandoffEvent.REQUEST): Mode.WAITING,
    (Mode.RESOLVED, HandoffEvent.REQUEST): Mode.WAITING,
    (Mode.WAITING, HandoffEvent.CLAIM): Mode.AGENT,
    (Mode.WAITING, HandoffEvent.LEAVE_MESSAGE): Mode.BOT,
    (Mode.WAITING, HandoffEvent.BACK_TO_BOT): Mode.BOT,
    (Mode.WAITING, HandoffEvent.WITHDRAW): Mode.BOT,
    (Mode.AGENT, HandoffEvent.TRANSFER): Mode.AGENT,
    (Mode.AGENT, HandoffEvent.RELEASE): Mode.WAITING,
    (Mode.AGENT, HandoffEvent.RESOLVE): Mode.RESOLVED,
    (Mode.AGENT, HandoffEvent.BACK_TO_BOT): Mode.BOT,
    (Mode.RESOLVED, HandoffEvent.REOPEN): Mode.BOT,
}


def transition(mode: Mode, event: HandoffEvent) -> Mode:
    """The mode after an event, or IllegalTransition."""
    try:
        return TRANSITIONS[(mode, event)]
    except KeyError:
        raise IllegalTransition(mode, event) from None


def resident_talks_to_bot(mode: Mode) -> bool:
    """While waiting or with an agent, the resident's messages go to staff, not to Rasa."""
    return mode in (Mode.BOT, Mode.RESOLVED)


# Words that ask for a person. Rasa's NLU decides too; these are the ones that always mean it
# (web honours them when Rasa is down, and tells the bot so, so a question is never mistaken for one).
HUMAN_REQUEST = re.compile(r"人工|真人|客服|找个人|找人帮|工作人员|投诉")


def asks_for_person(text: str) -> bool:
    return bool(HUMAN_REQUEST.search(text))


# Words with which a resident waiting for a person takes the request back and asks the bot again.
WITHDRAW_REQUEST = re.compile(
    r"^(算了|不用了|不等了|不要人工了?|不找人工了?|不用人工了?)|我自己(问|看|查|来问)|还是问(你|机器人|助手)"
)


def withdraws_request(text: str) -> bool:
    return bool(WITHDRAW_REQUEST.search(text.strip())) and not asks_for_person(text)
