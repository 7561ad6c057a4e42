"""好差评 rectification tasks: one per bad rating, moved through its states with a history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select

from knowledge.errors import NotFound
from web.db.engine import Database
from web.db.tables import RatingTask, TaskState, utcnow

OPEN_STATES = (TaskState.VERIFY, TaskState.RECTIFY, TaskState.FEEDBACK, TaskState.REVISIT, TaskState.APPEALED)


class RatingTaskRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, task: RatingTask) -> RatingTask:
        with self.db.tx() as s:
            s.add(task)
            return task

    def get(self, task_id: int) -> RatingTask:
        with self.db.tx() as s:
            task = s.get(RatingTask, task_id)
            if task is None:
                raise NotFound(f"no rectification task {task_id}")
            return task

    def change(self, task_id: int, step: Callable[[RatingTask], None]) -> RatingTask:
        """Apply ``step`` (which raises to refuse: then nothing is written) in one transaction."""
        with self.db.tx() as s:
            task = s.get(RatingTask, task_id, with_for_update=True)
            if task is None:
                raise NotFound(f"no rectification task {task_id}")
            step(task)
            task.updated_at = utcnow()
            return task

    def overdue_count(self, today: dt.date) -> int:
        with self.db.tx() as s:
            rows = s.scalars(select(RatingTask.id).where(RatingTask.due_on < today, RatingTask.state.in_(OPEN_STATES)))
            return len(list(rows))

    def all(self, open_only: bool = False) -> list[RatingTask]:
        """Soonest due first."""
        with self.db.tx() as s:
            q = select(RatingTask).order_by(RatingTask.due_on, RatingTask.id)
            if open_only:
                q = q.where(RatingTask.state.in_(OPEN_STATES))
            return list(s.scalars(q))
