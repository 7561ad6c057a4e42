"""Ratings (好差评): five levels, of a chat with staff or of one answer."""

from __future__ import annotations

from sqlalchemy import select

from web.db.engine import Database
from web.db.tables import Rating
from web.privacy import mask_pii


class RatingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, target: str, level: int, comment: str | None, conv_id: str | None, item: str | None) -> Rating:
        with self.db.tx() as s:
            rating = Rating(
                target=target,
                level=level,
                comment=mask_pii(comment) if comment else None,
                conversation_id=conv_id,
                item=item,
            )
            s.add(rating)
            return rating

    def all(self) -> list[Rating]:
        """Newest first."""
        with self.db.tx() as s:
            return list(s.scalars(select(Rating).order_by(Rating.id.desc())))
