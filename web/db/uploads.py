"""Uploaded photos: the re-encoded file under the uploads folder and its row, both gone after the expiry.

Files live at ``<uploads>/<expires on, YYYY-MM-DD>/<token>.jpg``: outside every web root (only a staff
route, or the resident's own pre-check page, reads them), and a whole day's folder can go at once.
``purge_expired`` deletes the rows past ``expires_at`` and their files; it runs on every new upload
(this code path purges its own), and the general purge job can call it too.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import shutil
from pathlib import Path

from sqlalchemy import delete, select

from knowledge.errors import NotFound
from web.db.engine import Database
from web.db.tables import Upload, utcnow

logger = logging.getLogger(__name__)


class UploadRepository:
    def __init__(self, db: Database, folder: Path, retention_days: int = 7) -> None:
        self.db = db
        self.folder = folder
        self.retention = dt.timedelta(days=retention_days)

    def save(
        self,
        data: bytes,
        *,
        purpose: str,
        content_type: str = "image/jpeg",
        conversation_id: str | None = None,
        agency_code: str | None = None,
        material: int | None = None,
        now: dt.datetime | None = None,
    ) -> Upload:
        """Keep an already cleaned file until the retention period ends; expired ones go first."""
        now = now or utcnow()
        self.purge_expired(now)
        expires = now + self.retention
        token = secrets.token_urlsafe(24)
        rel = f"{expires.date().isoformat()}/{token}.jpg"
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            with self.db.tx() as s:
                row = Upload(
                    token=token,
                    purpose=purpose,
                    conversation_id=conversation_id,
                    agency_code=agency_code,
                    material=material,
                    path=rel,
                    content_type=content_type,
                    size=len(data),
                    created_at=now,
                    expires_at=expires,
                )
                s.add(row)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return row

    def get(self, token: str, now: dt.datetime | None = None) -> tuple[Upload, bytes]:
        """An upload that has not expired, and its bytes."""
        now = now or utcnow()
        with self.db.tx() as s:
            row = s.scalar(select(Upload).where(Upload.token == token))
        if row is None or row.expires_at.replace(tzinfo=row.expires_at.tzinfo or dt.UTC) <= now:
            raise NotFound("这张图片已经删除（超过保存期限）或不存在")
        path = self.folder / row.path
        if not path.exists():
            raise NotFound("这张图片已经删除")
        return row, path.read_bytes()

    def of_request(self, agency_code: str) -> list[Upload]:
        now = utcnow()
        with self.db.tx() as s:
            rows = s.scalars(
                select(Upload).where(Upload.agency_code == agency_code, Upload.expires_at > now).order_by(Upload.id)
            )
            return list(rows)

    def purge_expired(self, now: dt.datetime | None = None) -> int:
        """Delete every upload past its expiry (row and file) and day folders past their date; how many rows."""
        now = now or utcnow()
        with self.db.tx() as s:
            expired = list(s.scalars(select(Upload).where(Upload.expires_at <= now)))
            for row in expired:
                (self.folder / row.path).unlink(missing_ok=True)
            if expired:
                s.execute(delete(Upload).where(Upload.id.in_([r.id for r in expired])))
        if self.folder.exists():
            today = now.date().isoformat()
            for day in self.folder.iterdir():
                # A folder is named by the day its files expire: one before today holds nothing to keep.
                if day.is_dir() and len(day.name) == 10 and day.name < today:
                    shutil.rmtree(day, ignore_errors=True)
        if expired:
            logger.info("purged %d expired uploads", len(expired))
        return len(expired)
