"""The database as the rest of web/ sees it: one repository per aggregate, sharing one engine."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine

from web.db.agency import AgencyRepository
from web.db.analytics import AnalyticsRepository
from web.db.audit import AuditRepository
from web.db.canned import CannedReplyRepository
from web.db.conversations import ConversationRepository
from web.db.engine import Database
from web.db.guides import GuideReportRepository, GuideVersionRepository
from web.db.inbound import InboundRepository
from web.db.outbox import OutboxRepository
from web.db.presence import FirstResponseRepository, PresenceRepository
from web.db.rating_tasks import RatingTaskRepository
from web.db.ratings import RatingRepository
from web.db.search import SearchRepository
from web.db.sessions import LoginAttemptRepository, StaffSessionRepository
from web.db.staff import StaffRepository
from web.db.tickets import TicketRepository
from web.db.turns import TurnRepository
from web.db.workorders import WebhookRepository, WorkOrderRepository


class Store(Database):
    """``store.conversations.open_turn(...)``, ``store.tickets.add(...)``: one short transaction per call.

    Args:
        on_change: called with a conversation id after a committed change a resident may be waiting for.
    """

    def __init__(self, engine: Engine, on_change: Callable[[str], None] | None = None) -> None:
        super().__init__(engine)
        self.conversations = ConversationRepository(self, on_change)
        self.turns = TurnRepository(self)
        self.staff = StaffRepository(self)
        self.tickets = TicketRepository(self)
        self.agency = AgencyRepository(self)
        self.ratings = RatingRepository(self)
        self.analytics = AnalyticsRepository(self)
        self.inbound = InboundRepository(self)
        self.outbox = OutboxRepository(self)
        self.workorders = WorkOrderRepository(self)
        self.webhooks = WebhookRepository(self)
        self.guides = GuideVersionRepository(self)
        self.reports = GuideReportRepository(self)
        self.staff_sessions = StaffSessionRepository(self)
        self.login_attempts = LoginAttemptRepository(self)
        self.audit = AuditRepository(self)
        self.presence = PresenceRepository(self)
        self.first_responses = FirstResponseRepository(self)
        self.canned = CannedReplyRepository(self)
        self.rating_tasks = RatingTaskRepository(self)
        self.search = SearchRepository(self)
