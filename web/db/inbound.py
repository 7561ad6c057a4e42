"""WeChat inbound de-duplication (a retry gets the reply made once) and the replay guard on nonces."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from web.db.engine import Database
from web.db.tables import WeChatInbound, WeChatNonce, utcnow

PURGE_EVERY = dt.timedelta(minutes=1)


class InboundRepository:
    """De-duplication of WeChat's retries, by MsgId (events: FromUserName + CreateTime)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._purged = dt.datetime.min.replace(tzinfo=dt.UTC)

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

    def release(self, key: str) -> None:
        """Forget a key whose turn failed before a reply was made: WeChat's retry is then processed."""
        with self.db.tx() as s:
            s.execute(delete(WeChatInbound).where(WeChatInbound.key == key, WeChatInbound.reply.is_(None)))

    def finish(self, key: str, reply: str) -> None:
        with self.db.tx() as s:
            row = s.get(WeChatInbound, key)
            if row is not None:
                row.reply = reply

    def claim_nonce(self, nonce: str, timestamp: str, window: dt.timedelta) -> bool:
        """True the first time a signed (nonce, timestamp) is seen by any web copy; False for a replay.

        Pairs older than ``window`` are purged (at most once a minute per copy): a request that
        old is refused for its timestamp before it gets here.
        """
        now = utcnow()
        if now - self._purged > PURGE_EVERY:
            self._purged = now
            with self.db.tx() as s:
                s.execute(delete(WeChatNonce).where(WeChatNonce.created_at < now - 2 * window))
        try:
            with self.db.tx() as s:
                s.add(WeChatNonce(nonce=nonce, timestamp=timestamp, created_at=now))
            return True
        except IntegrityError:
            return False
