"""Tickets: callbacks residents asked for, and follow-ups of bad ratings for the supervisor."""

from __future__ import annotations

from sqlalchemy import select

from knowledge.errors import NotFound
from web.db.engine import Database
from web.db.tables import Ticket, TicketKind, TicketStatus
from web.privacy import mask_pii


class TicketRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, kind: TicketKind, text: str, conv_id: str | None = None, phone: str | None = None) -> Ticket:
        with self.db.tx() as s:
            ticket = Ticket(kind=kind, text=mask_pii(text), conversation_id=conv_id, phone=phone)
            s.add(ticket)
            return ticket

    def by_status(self, status: TicketStatus | None = TicketStatus.OPEN) -> list[Ticket]:
        """Newest first; ``status=None`` for every ticket."""
        with self.db.tx() as s:
            q = select(Ticket).order_by(Ticket.id.desc())
            if status is not None:
                q = q.where(Ticket.status == status)
            return list(s.scalars(q))

    def close(self, ticket_id: int) -> None:
        with self.db.tx() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id}")
            ticket.status = TicketStatus.DONE
