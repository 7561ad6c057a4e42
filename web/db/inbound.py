"""WeChat inbound de-duplication: every message or event seen; a retry gets the reply made once."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from web.db.engine import Database
from web.db.tables import WeChatInbound


class InboundRepository:
    """De-duplication of WeChat's retries, by MsgId (events: FromUserName + CreateTime)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, key: str) -> tuple[bool, str | None]:
        """(True, None) the first time a key is seen; (False, cached reply) for a retry."""
        try:
            with self.db.tx() as s:
                s.add(WeChatInbound(key=key))
            return True, None
        except IntegrityError:
            with self.db.tx() as s:
                row = s.get(WeChatInbound, key)
                return False, row.reply if row else None

    def finish(self, key: str, reply: str) -> None:
        with self.db.tx() as s:
            row = s.get(WeChatInbound, key)
            if row is not None:
                row.reply = reply
