"""好差评 rectification (GB/T 39734-2020, 国办发〔2019〕51号): every bad rating verified, fixed, answered back.

A rating of 不满意 or worse opens a task due ``followup_days`` working days later (weekends and the
city's holidays skipped, 调休上班 counted: ``knowledge.hours.WorkingDays``). Its states go one way,
核实 → 整改 → 反馈 → 回访 → 办结; at 回访 the resident's new rating is recorded. From any open state
before 回访 an agent may appeal a malicious rating (申诉中); a supervisor decides: upheld voids the
rating (申诉成立), refused sends the task back where it was. A task open past its due day is overdue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from knowledge.errors import BadRequest, MenpaiError
from knowledge.hours import Clock, SystemClock, WorkingDays, china_today
from web.db.rating_tasks import OPEN_STATES
from web.db.store import Store
from web.db.tables import Rating, RatingTask, Staff, StaffRole, TaskState, utcnow
from web.helpdesk.auth import Forbidden
from web.privacy import mask_pii

FLOW = [TaskState.VERIFY, TaskState.RECTIFY, TaskState.FEEDBACK, TaskState.REVISIT, TaskState.CLOSED]
APPEALABLE = (TaskState.VERIFY, TaskState.RECTIFY, TaskState.FEEDBACK)


class IllegalTaskStep(MenpaiError):
    status = 409
    code = "illegal_transition"


class SupervisorOnly(Forbidden):
    """Only a supervisor decides an appeal."""


@dataclass
class Rectification:
    store: Store
    calendar: WorkingDays = field(default_factory=WorkingDays)
    followup_days: int = 5
    clock: Clock = field(default_factory=SystemClock)

    def open(self, rating: Rating) -> RatingTask:
        """The task of a bad rating, due ``followup_days`` working days after the rating's day."""
        now = self.clock.now()
        due = self.calendar.add(china_today(now), self.followup_days)
        task = RatingTask(
            rating_id=rating.id,
            conversation_id=rating.conversation_id,
            level=rating.level,
            state=TaskState.VERIFY,
            due_on=due,
            history=[{"state": TaskState.VERIFY.value, "by": "resident", "at": now.isoformat(), "note": ""}],
        )
        return self.store.rating_tasks.add(task)

    def overdue(self, task: RatingTask, today: dt.date | None = None) -> bool:
        today = today or china_today(self.clock.now())
        return task.state in OPEN_STATES and self.calendar.overdue(task.due_on, today)

    def overdue_count(self) -> int:
        return self.store.rating_tasks.overdue_count(china_today(self.clock.now()))

    def advance(
        self, task_id: int, to: TaskState, staff: Staff, note: str = "", rerating: int | None = None
    ) -> RatingTask:
        """One step along 核实 → 整改 → 反馈 → 回访 → 办结; closing at 回访 needs the resident's new rating."""

        def step(task: RatingTask) -> None:
            if task.state not in FLOW or to not in FLOW or FLOW.index(to) != FLOW.index(task.state) + 1:
                raise IllegalTaskStep(f"a task that is {task.state.value} cannot go to {to.value}")
            if to is TaskState.CLOSED:
                if rerating not in (1, 2, 3, 4, 5):
                    raise BadRequest("办结 needs the resident's rating at 回访, from 1 to 5")
                task.rerating = rerating
            if to in (TaskState.RECTIFY, TaskState.FEEDBACK) and not note.strip():
                raise BadRequest(f"{to.value} needs a note: what was found, what was done or told")
            task.state = to
            self._log(task, staff, note, rerating=rerating)

        return self.store.rating_tasks.change(task_id, step)

    def appeal(self, task_id: int, staff: Staff, reason: str) -> RatingTask:
        """An appeal of a malicious rating (恶意差评), with the reason; a supervisor decides."""
        if not reason.strip():
            raise BadRequest("an appeal needs its reason")

        def step(task: RatingTask) -> None:
            if task.state not in APPEALABLE:
                raise IllegalTaskStep(f"a task that is {task.state.value} cannot be appealed")
            task.appeal_from = task.state.value
            task.appeal_reason = mask_pii(reason.strip())
            task.state = TaskState.APPEALED
            self._log(task, staff, reason)

        return self.store.rating_tasks.change(task_id, step)

    def decide(self, task_id: int, staff: Staff, upheld: bool, note: str = "") -> RatingTask:
        """A supervisor's decision: upheld voids the rating (申诉成立); refused returns the task to its state."""
        if staff.role is not StaffRole.SUPERVISOR:
            raise SupervisorOnly("only a supervisor decides an appeal")

        def step(task: RatingTask) -> None:
            if task.state is not TaskState.APPEALED:
                raise IllegalTaskStep(f"a task that is {task.state.value} has no appeal to decide")
            task.state = TaskState.VOIDED if upheld else TaskState(task.appeal_from or TaskState.VERIFY.value)
            self._log(task, staff, note, decision="upheld" if upheld else "refused")

        return self.store.rating_tasks.change(task_id, step)

    def board(self) -> list[dict[str, Any]]:
        """Every task with its rating and whether it is overdue, soonest due first."""
        today = china_today(self.clock.now())
        ratings = {r.id: r for r in self.store.ratings.all()}
        return [
            {"task": t, "rating": ratings.get(t.rating_id), "overdue": self.overdue(t, today), "next": next_state(t)}
            for t in self.store.rating_tasks.all()
        ]

    @staticmethod
    def _log(task: RatingTask, staff: Staff, note: str, **extra: Any) -> None:
        entry = {"state": task.state.value, "by": staff.username, "at": utcnow().isoformat(), "note": mask_pii(note)}
        task.history = [*task.history, {**entry, **{k: v for k, v in extra.items() if v is not None}}]


def next_state(task: RatingTask) -> TaskState | None:
    """The state a task goes to next along the flow (None: closed, voided or appealed)."""
    if task.state not in FLOW or task.state is TaskState.CLOSED:
        return None
    return FLOW[FLOW.index(task.state) + 1]
