"""The editor's loop in SQL: published guide versions (who, when, history) and residents' reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import func, select

from knowledge.errors import NotFound
from web.db.engine import Database
from web.db.tables import GuideReport, GuideVersion, ReportStatus, Staff, utcnow


class GuideVersionRepository:
    """Version numbers start at 1; 0 stands for the guide's file in guides/, which is not stored here."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def current(self, code: str) -> int:
        """The newest version of a code, 0 when it was never published here."""
        with self.db.tx() as s:
            return int(s.scalar(select(func.max(GuideVersion.version)).where(GuideVersion.code == code)) or 0)

    def text(self, code: str, version: int) -> str | None:
        with self.db.tx() as s:
            return s.scalar(select(GuideVersion.text).where(GuideVersion.code == code, GuideVersion.version == version))

    def add(self, code: str, version: int, text: str, *, author_id: int | None, note: str) -> None:
        """Store a version; IntegrityError when another copy took this number at the same moment."""
        with self.db.tx() as s:
            s.add(GuideVersion(code=code, version=version, text=text, author_id=author_id, note=note))

    def history(self, code: str) -> list[tuple[int, dt.datetime, str, str | None]]:
        """(version, created_at, note, author's name) of every version of a code, newest first."""
        with self.db.tx() as s:
            rows = s.execute(
                select(GuideVersion.version, GuideVersion.created_at, GuideVersion.note, Staff.name)
                .outerjoin(Staff, Staff.id == GuideVersion.author_id)
                .where(GuideVersion.code == code)
                .order_by(GuideVersion.version.desc())
            ).all()
        return [(v, created, note, name) for v, created, note, name in rows]

    def latest(self) -> list[tuple[str, int, dt.datetime, str, str | None]]:
        """(code, version, created_at, note, author's name) of the newest version of every code edited."""
        newest = (
            select(GuideVersion.code, func.max(GuideVersion.version).label("version"))
            .group_by(GuideVersion.code)
            .subquery()
        )
        with self.db.tx() as s:
            rows = s.execute(
                select(GuideVersion.code, GuideVersion.version, GuideVersion.created_at, GuideVersion.note, Staff.name)
                .join(newest, (GuideVersion.code == newest.c.code) & (GuideVersion.version == newest.c.version))
                .outerjoin(Staff, Staff.id == GuideVersion.author_id)
            ).all()
        return [(c, v, created, note, name) for c, v, created, note, name in rows]

    def newer_than(self, applied: Mapping[str, int]) -> dict[tuple[str, int], str | None]:
        """The text of each code's newest version, where it is newer than ``applied`` (absent: 0, the file)."""
        with self.db.tx() as s:
            rows = s.execute(
                select(GuideVersion.code, func.max(GuideVersion.version)).group_by(GuideVersion.code)
            ).all()
            wanted = [(c, int(v)) for c, v in rows if int(v) > applied.get(c, 0)]
            return {
                (c, v): s.scalar(select(GuideVersion.text).where(GuideVersion.code == c, GuideVersion.version == v))
                for c, v in wanted
            }


class GuideReportRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, report: GuideReport) -> GuideReport:
        with self.db.tx() as s:
            s.add(report)
        return report

    def open(self) -> list[GuideReport]:
        """Open reports, oldest first."""
        with self.db.tx() as s:
            rows = s.scalars(
                select(GuideReport).where(GuideReport.status == ReportStatus.OPEN.value).order_by(GuideReport.id)
            )
            return list(rows)

    def open_counts(self) -> dict[str, int]:
        """How many open reports each guide has."""
        with self.db.tx() as s:
            rows = s.execute(
                select(GuideReport.code, func.count(GuideReport.id))
                .where(GuideReport.status == ReportStatus.OPEN.value)
                .group_by(GuideReport.code)
            ).all()
        return {code: int(n) for code, n in rows}

    def resolve(self, report_id: int, *, staff_id: int, resolution: str) -> GuideReport:
        with self.db.tx() as s:
            report = s.get(GuideReport, report_id)
            if report is None:
                raise NotFound(f"没有第 {report_id} 号报错")
            report.status = ReportStatus.RESOLVED.value
            report.resolved_by = staff_id
            report.resolution = resolution
            report.resolved_at = utcnow()
            return report
