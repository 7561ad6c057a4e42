"""Appointments (预约): half-hour slots whose capacity is never exceeded, bookings found by a short code.

A booking is one transaction that first writes (so SQLite takes its write lock before reading and
PostgreSQL locks the slot's row): the slot's row is created if missing, then raised with
``UPDATE … SET booked = booked + 1 WHERE booked < capacity``. Only a booking whose update touched the
row goes on; concurrent bookings of the last place wait for each other and all but one find it full.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from knowledge.errors import MenpaiError, NotFound
from web.db.codes import MAX_TRIES, SHORT_CHARS, new_code, normalize_code
from web.db.engine import Database
from web.db.tables import Appointment, AppointmentSlot, AppointmentStatus, utcnow


class SlotFull(MenpaiError):
    """Every place of the half-hour is taken (perhaps a moment ago, by someone else)."""

    status = 409
    code = "slot_full"


class AppointmentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _ensure_slot(self, s: Session, hall: str, group: str, slot: str) -> None:
        values = {"hall": hall, "group": group, "slot": slot, "booked": 0}
        if s.bind is not None and s.bind.dialect.name == "postgresql":
            s.execute(pg_insert(AppointmentSlot).values(**values).on_conflict_do_nothing())
        else:
            s.execute(sqlite_insert(AppointmentSlot).values(**values).on_conflict_do_nothing())

    def book(
        self, *, hall: str, group: str, slot: str, capacity: int, item: str, name: str, phone: str, plate: str | None
    ) -> Appointment:
        """Take one place of the slot, or SlotFull. The capacity is the data file's, read at booking time."""
        for attempt in range(MAX_TRIES):
            try:
                with self.db.tx() as s:
                    self._ensure_slot(s, hall, group, slot)
                    taken = s.execute(
                        update(AppointmentSlot)
                        .where(
                            AppointmentSlot.hall == hall,
                            AppointmentSlot.group == group,
                            AppointmentSlot.slot == slot,
                            AppointmentSlot.booked < capacity,
                        )
                        .values(booked=AppointmentSlot.booked + 1)
                    )
                    if taken.rowcount != 1:  # type: ignore[attr-defined]
                        raise SlotFull(f"{slot} 这个时段已经约满了，请换一个时段")
                    row = Appointment(
                        code=new_code(SHORT_CHARS),
                        hall=hall,
                        group=group,
                        item=item,
                        slot=slot,
                        name=name,
                        phone=phone,
                        plate=plate,
                        status=AppointmentStatus.BOOKED.value,
                    )
                    s.add(row)
                return row
            except IntegrityError:  # the code was taken (never by chance): the whole booking again
                if attempt == MAX_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def booked_counts(self, hall: str, group: str, slots: list[str]) -> dict[str, int]:
        """How many places of each slot are taken."""
        if not slots:
            return {}
        with self.db.tx() as s:
            rows = s.execute(
                select(AppointmentSlot.slot, AppointmentSlot.booked).where(
                    AppointmentSlot.hall == hall, AppointmentSlot.group == group, AppointmentSlot.slot.in_(slots)
                )
            )
            return {slot: booked for slot, booked in rows}

    def by_code(self, code: str) -> Appointment:
        with self.db.tx() as s:
            row = s.scalar(select(Appointment).where(Appointment.code == normalize_code(code)))
            if row is None:
                raise NotFound(f"没有预约码为 {code} 的预约")
            return row

    def cancel(self, code: str, phone: str) -> Appointment:
        """Cancel a booking (the phone it was made with must match) and give its place back."""
        with self.db.tx() as s:
            row = s.scalar(select(Appointment).where(Appointment.code == normalize_code(code)).with_for_update())
            if row is None or row.phone != phone:
                raise NotFound("没有找到这个预约：请核对预约码和预约时留的手机号")
            if row.status == AppointmentStatus.CANCELLED.value:
                return row
            row.status = AppointmentStatus.CANCELLED.value
            row.cancelled_at = utcnow()
            s.execute(
                update(AppointmentSlot)
                .where(
                    AppointmentSlot.hall == row.hall,
                    AppointmentSlot.group == row.group,
                    AppointmentSlot.slot == row.slot,
                    AppointmentSlot.booked > 0,
                )
                .values(booked=AppointmentSlot.booked - 1)
            )
            return row

    def on_day(self, day: str, hall: str | None = None) -> list[Appointment]:
        """Every booking (cancelled ones too) of a day, ``YYYY-MM-DD``, by time."""
        with self.db.tx() as s:
            q = select(Appointment).where(Appointment.slot.like(f"{day}%"))
            if hall:
                q = q.where(Appointment.hall == hall)
            return list(s.scalars(q.order_by(Appointment.slot, Appointment.id)))
