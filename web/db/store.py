"""The database as the rest of web/ sees it: one repository per aggregate, sharing one engine."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from web.db.agency import AgencyRepository
from web.db.analytics import AnalyticsRepository
from web.db.appointments import AppointmentRepository
from web.db.audit import AuditRepository
from web.db.canned import CannedReplyRepository
from web.db.conversations import ConversationRepository
from web.db.engine import Database
from web.db.guides import GuideReportRepository, GuideVersionRepository
from web.db.inbound import InboundRepository
from web.db.outbox import OutboxRepository
from web.db.prechecks import PrecheckRepository
from web.db.presence import FirstResponseRepository, PresenceRepository
from web.db.rating_tasks import RatingTaskRepository
from web.db.ratings import RatingRepository
from web.db.search import SearchRepository
from web.db.sessions import LoginAttemptRepository, StaffSessionRepository
from web.db.staff import StaffRepository
from web.db.tickets import TicketRepository
from web.db.turns import TurnRepository
from web.db.uploads import UploadRepository
from web.db.workorders import WebhookRepository, WorkOrderRepository


class Store(Database):
    """``store.conversations.open_turn(...)``, ``store.tickets.add(...)``: one short transaction per call.

    Args:
        on_change: called with a conversation id after a committed change a resident may be waiting for.
        uploads: the folder of residents' photos (outside every web root); default a temporary folder.
        upload_retention_days: how long a photo is kept.
    """

    def __init__(
        self,
        engine: Engine,
        on_change: Callable[[str], None] | None = None,
        *,
        uploads: Path | None = None,
        upload_retention_days: int = 7,
    ) -> None:
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
        self.appointments = AppointmentRepository(self)
        self.uploads = UploadRepository(
            self, uploads or Path(tempfile.gettempdir()) / "menpai-uploads", upload_retention_days
        )
        self.prechecks = PrecheckRepository(self)
        self.presence = PresenceRepository(self)
        self.first_responses = FirstResponseRepository(self)
        self.canned = CannedReplyRepository(self)
        self.rating_tasks = RatingTaskRepository(self)
        self.search = SearchRepository(self)
