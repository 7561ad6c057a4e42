"""Delivering staff replies to residents: one interface, one implementation per channel.

The web widget needs no push: it reads new messages from the database (polling
/api/chat/{session}/messages). Other channels (WeChat's customer-service API)
register a Channel here.
"""

from __future__ import annotations

import logging
from typing import Protocol

from web.storage import Store

logger = logging.getLogger(__name__)


class Channel(Protocol):
    async def send(self, conversation_id: str, text: str) -> None: ...


class WebChannel:
    """Messages are already stored; the widget picks them up."""

    async def send(self, conversation_id: str, text: str) -> None:
        return None


class Delivery:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.channels: dict[str, Channel] = {"web": WebChannel()}

    def register(self, name: str, channel: Channel) -> None:
        self.channels[name] = channel

    async def deliver(self, conversation_id: str, text: str) -> None:
        conv = self.store.find_conversation(conversation_id)
        channel = self.channels.get(conv.channel)
        if channel is None:
            logger.error("no delivery channel %r for conversation %s", conv.channel, conversation_id)
            return
        await channel.send(conversation_id, text)
