"""The editor's loop: published guide versions, resident error reports, unanswered questions.

Files in guides/ seed the library. An editor publishes a guide's YAML as a new row in
``guide_versions``; the highest version of a code is the published guide and overrides
its file. Every web copy polls the table (``GuideEditor.refresh``, every
``MENPAI_GUIDE_REFRESH_SECONDS``) and puts newer guides into its library in place, so
answers and guide pages use them at once; the publishing copy applies its own change
immediately. The retrieval index is built offline and is not touched: new asks reach
retrieval at the next ``menpai index build`` (after ``menpai guides export``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import difflib
import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.exc import IntegrityError

from knowledge.errors import BadRequest, ContentError, MenpaiError, NotFound, Problem
from knowledge.library import Library, check_guide_text, guide_from_text, guide_path
from knowledge.schema import Guide
from knowledge.service import KnowledgeBase
from web.db.store import Store
from web.db.tables import GuideReport, ReportPart, ReportStatus, utcnow
from web.privacy import mask_pii

logger = logging.getLogger(__name__)

MAX_NOTE_CHARS = 500
MAX_ASK_CHARS = 120
FILE_VERSION = 0  # the guide as its file in guides/ has it


PART_LABELS = {
    ReportPart.FEE: "费用",
    ReportPart.MATERIALS: "要带的材料",
    ReportPart.TIME: "办理时间",
    ReportPart.WHERE: "在哪办、开门时间",
    ReportPart.ONLINE: "网上办",
    ReportPart.OTHER: "其他",
}


class GuideInvalid(MenpaiError):
    """The text is not a guide the library accepts; every problem is listed."""

    status = 422
    code = "invalid_guide"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the guide; nothing was published")


class VersionConflict(MenpaiError):
    status = 409
    code = "version_conflict"


@dataclass(frozen=True)
class VersionInfo:
    """A published version as the history shows it (version 0: the file in guides/)."""

    code: str
    version: int
    author: str
    created_at: dt.datetime | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "version": self.version,
            "author": self.author,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "note": self.note,
        }


@dataclass(frozen=True)
class Published:
    """A newer published guide fetched from the database, ready to apply."""

    code: str
    version: int
    guide: Guide | None  # None: the stored text no longer validates (kept out, logged)


@dataclass(frozen=True)
class Outcome:
    """What a publish did: the version now published and whether it is new."""

    code: str
    version: int
    changed: bool

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "version": self.version, "changed": self.changed}


def normalize_text(text: str) -> str:
    """Browsers send a textarea with CRLF; store LF and one final newline."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") + "\n"


def clean_ask(text: str) -> str:
    """A resident's question as one line of an ask."""
    return re.sub(r"\s+", " ", text).strip()[:MAX_ASK_CHARS]


def _ask_scalar(ask: str) -> str:
    """The ask as YAML: plain where YAML reads it back unchanged, else double-quoted."""
    try:
        if yaml.safe_load(f"- {ask}") == [ask]:
            return ask
    except yaml.YAMLError:
        pass
    return json.dumps(ask, ensure_ascii=False)


def append_ask(text: str, ask: str) -> str:
    """The guide's YAML with one more entry at the end of ``asks``, keeping comments and layout."""
    before = (yaml.safe_load(text) or {}).get("asks") or []
    lines = text.splitlines(keepends=True)
    root = yaml.compose(text)
    items = None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "asks" and isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
                items = value.value
    if items is not None:
        first = lines[items[0].start_mark.line]
        dash = re.match(r"^(\s*-\s+)", first)
        end = items[-1].end_mark
        at = end.line if end.column == 0 else end.line + 1
        if dash is not None:
            if at > 0 and not lines[at - 1].endswith("\n"):
                lines[at - 1] += "\n"
            lines.insert(at, f"{dash.group(1)}{_ask_scalar(ask)}\n")
            edited = "".join(lines)
            if (yaml.safe_load(edited) or {}).get("asks") == [*before, ask]:
                return edited
    # Unusual layout (flow list, no asks yet): write the mapping again; comments are lost.
    data = yaml.safe_load(text) or {}
    data["asks"] = [*before, ask]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


class GuideEditor:
    """Published guide versions over the store, applied in place to one library.

    Args:
        store: the database.
        library: the library this process answers from (``kb.library``); changed in place.
        on_change: called after guides changed here (web: forget cached pages).
    """

    def __init__(self, store: Store, library: Library, on_change: Callable[[], None] | None = None) -> None:
        self.store = store
        self.library = library
        self.on_change = on_change or (lambda: None)
        self.applied: dict[str, int] = {}  # code → version this process answers from
        self._lock = threading.Lock()

    # ---- reading

    def _known(self, code: str) -> Guide:
        guide = self.library.guides.get(code)
        if guide is None:
            raise NotFound(f"没有编号为 {code} 的办事攻略")
        return guide

    def file_text(self, code: str) -> str:
        return guide_path(self.library, code).read_text(encoding="utf-8")

    def current_version(self, code: str) -> int:
        return self.store.guides.current(code)

    def version_text(self, code: str, version: int) -> str:
        self._known(code)
        if version == FILE_VERSION:
            return self.file_text(code)
        text = self.store.guides.text(code, version)
        if text is None:
            raise NotFound(f"{code} 没有第 {version} 版")
        return text

    def current_text(self, code: str) -> str:
        """The published text: the newest version in the database, else the file."""
        return self.version_text(code, self.current_version(code))

    def history(self, code: str) -> list[VersionInfo]:
        """Every version, newest first, ending with the file the library was seeded from."""
        self._known(code)
        rows = self.store.guides.history(code)
        versions = [VersionInfo(code, v, name or "命令行", created, note) for v, created, note, name in rows]
        return [*versions, VersionInfo(code, FILE_VERSION, "guides/ 文件", None, "初始内容（文件）")]

    def latest(self) -> dict[str, VersionInfo]:
        """The newest version of every code edited at least once."""
        rows = self.store.guides.latest()
        return {c: VersionInfo(c, v, name or "命令行", created, note) for c, v, created, note, name in rows}

    # ---- writing

    def check(self, code: str, text: str) -> tuple[Guide | None, list[Problem]]:
        """The rules of ``menpai guides check``, for this text as the guide ``code``."""
        self._known(code)
        return check_guide_text(self.library, code, normalize_text(text))

    def preview(self, code: str, text: str) -> tuple[Library | None, list[Problem]]:
        """The library with this unsaved text as the guide ``code``; None (and the problems) when it fails the check."""
        guide, problems = self.check(code, text)
        if guide is None:
            return None, problems
        return dataclasses.replace(self.library, guides={**self.library.guides, code: guide}), problems

    def version_diff(self, code: str, version: int) -> tuple[str, str]:
        """One version's text, and what changed from the version before it (a unified diff)."""
        text = self.version_text(code, version)
        before = self.version_text(code, version - 1) if version > 0 else ""
        diff = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"第 {version - 1} 版" if version > 0 else "（无）",
                f"第 {version} 版",
            )
        )
        return text, diff

    def publish(
        self, code: str, text: str, *, author_id: int | None, note: str = "", base: int | None = None
    ) -> Outcome:
        """Validate and publish a new version; applied to this process's library at once.

        Args:
            base: the version the editor started from; another version published since is a conflict.

        Raises:
            GuideInvalid: with every problem (nothing is published).
            VersionConflict: ``base`` is not the published version any more.
        """
        text = normalize_text(text)
        guide, problems = self.check(code, text)
        if guide is None:
            raise GuideInvalid(problems)
        version = FILE_VERSION
        for attempt in range(3):
            current = self.store.guides.current(code)
            if base is not None and base != current:
                raise VersionConflict(
                    f"{code} 已有人发布了第 {current} 版（您是从第 {base} 版改的）：请重新打开，把改动合进去再发布"
                )
            if text == self._published_text(code, current):
                return Outcome(code, current, False)
            version = current + 1
            try:
                self.store.guides.add(code, version, text, author_id=author_id, note=note[:MAX_NOTE_CHARS])
                break
            except IntegrityError:  # another copy took this number at the same moment
                if attempt == 2:
                    raise
        logger.info("guide %s version %d published by staff %s", code, version, author_id)
        self.apply([Published(code, version, guide)])
        return Outcome(code, version, True)

    def _published_text(self, code: str, version: int) -> str:
        if version == FILE_VERSION:
            return normalize_text(self.file_text(code))
        return str(self.store.guides.text(code, version))

    def rollback(self, code: str, version: int, *, author_id: int | None) -> Outcome:
        """Publish an earlier version's text again, as a new version."""
        text = self.version_text(code, version)
        return self.publish(code, text, author_id=author_id, note=f"回退到第 {version} 版")

    def add_ask(self, code: str, question: str, *, author_id: int | None) -> Outcome:
        """Publish a new version with a resident's question appended to the guide's asks."""
        ask = clean_ask(question)
        if not ask:
            raise BadRequest("the question is empty")
        text = append_ask(self.current_text(code), ask)
        return self.publish(code, text, author_id=author_id, note=f"加入群众问法：{ask}")

    # ---- live on every copy

    def fetch_newer(self) -> list[Published]:
        """Versions newer than the ones applied here (database only; run it off the event loop)."""
        texts = self.store.guides.newer_than(self.applied)
        out = []
        for (code, version), text in texts.items():
            if code not in self.library.guides:
                logger.warning("published guide %s is not in the library; ignored", code)
                continue
            try:
                guide: Guide | None = guide_from_text(text or "", f"guide_versions {code} v{version}")
            except ContentError as exc:
                logger.error("published %s v%d no longer validates, kept out: %s", code, version, exc.problems[:3])
                guide = None
            out.append(Published(code, version, guide))
        return out

    def apply(self, published: list[Published]) -> list[str]:
        """Put newer guides into the library in place; returns the codes changed."""
        changed = []
        with self._lock:
            for p in published:
                if p.version <= self.applied.get(p.code, FILE_VERSION):
                    continue  # this copy published a newer one meanwhile
                self.applied[p.code] = p.version
                if p.guide is not None:
                    self.library.put_guide(p.guide)
                    changed.append(p.code)
        if changed:
            logger.info("guides now published here: %s", ", ".join(f"{c} v{self.applied[c]}" for c in changed))
            self.on_change()
        return changed

    def refresh(self) -> list[str]:
        """Fetch and apply newer published versions; returns the codes changed."""
        return self.apply(self.fetch_newer())

    async def run_forever(self, interval: float) -> None:
        """Every ``interval`` seconds, pick up what other copies published."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.apply(await asyncio.to_thread(self.fetch_newer))
            except Exception:  # the database may be away for a moment; the next round tries again
                logger.exception("guide refresh failed; trying again in %.0f s", interval)

    # ---- unanswered questions

    def unanswered(self, days: int = 30, limit: int = 50) -> list[tuple[str, int]]:
        """Questions the assistant did not answer, most asked first, leaving out those already an ask."""
        since = utcnow() - dt.timedelta(days=days)
        rows = self.store.analytics.unanswered(since, limit * 2)
        key = self.library.normalizer.key
        known = {key(a.q) for a in self.library.asks}
        out = [(str(text).strip(), int(n)) for text, n in rows if text and text.strip() and key(text) not in known]
        return out[:limit]


@dataclass(frozen=True)
class ReportView:
    """A report as the editor queue shows it: the phone masked."""

    id: int
    code: str
    situation: str | None
    part: ReportPart
    part_label: str
    text: str
    phone: str
    status: ReportStatus
    resolution: str
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "situation": self.situation,
            "part": self.part.value,
            "text": self.text,
            "phone": self.phone,
            "status": self.status.value,
            "resolution": self.resolution,
            "created_at": self.created_at.isoformat(),
        }


def _view(r: GuideReport) -> ReportView:
    part = ReportPart(r.part)
    return ReportView(
        r.id,
        r.code,
        r.situation,
        part,
        PART_LABELS[part],
        r.text,
        mask_pii(r.phone) if r.phone else "",
        ReportStatus(r.status),
        r.resolution or "",
        r.created_at,
    )


class Reports:
    """Residents' error reports and their resolution by editors (the routes rate-limit them: web.ratelimit).

    Args:
        secret: keys the hash that stands for a client's IP address (the address is not stored).
    """

    def __init__(self, store: Store, secret: str) -> None:
        self.store = store
        self.secret = secret.encode()

    def client_key(self, ip: str) -> str:
        return hmac.new(self.secret, ip.encode(), hashlib.sha256).hexdigest()[:32]

    def add(
        self, code: str, part: ReportPart, text: str, *, ip: str, phone: str | None = None, situation: str | None = None
    ) -> ReportView:
        """Store a report, with a keyed hash of the client's IP."""
        client = self.client_key(ip)
        now = utcnow()
        report = GuideReport(
            code=code,
            situation=situation,
            part=part.value,
            text=mask_pii(text.strip()),
            phone=phone or None,
            client=client,
            created_at=now,
        )
        self.store.reports.add(report)
        logger.info("resident report on %s (%s)", code, part.value)
        return _view(report)

    def open(self) -> list[ReportView]:
        return [_view(r) for r in self.store.reports.open()]

    def open_counts(self) -> dict[str, int]:
        return self.store.reports.open_counts()

    def resolve(self, report_id: int, *, staff_id: int, note: str) -> ReportView:
        resolution = mask_pii(note.strip())[:MAX_NOTE_CHARS]
        return _view(self.store.reports.resolve(report_id, staff_id=staff_id, resolution=resolution))


def file_report(
    reports: Reports, guide: Guide, part: ReportPart, text: str, *, ip: str, phone: str | None, situation: str | None
) -> ReportView:
    """A resident's report on a guide; a situation the guide does not have is left out."""
    situation = situation if situation in {s.id for s in guide.situations} else None
    return reports.add(guide.code, part, text, ip=ip, phone=phone, situation=situation)


# ---- the editor's home page


@dataclass
class GuideRow:
    guide: Guide
    due: bool
    last: VersionInfo | None
    reports: int


@dataclass
class UnansweredRow:
    text: str
    count: int
    suggested: str


def suggested_item(kb: KnowledgeBase, text: str) -> str:
    """The item retrieval would have offered first: preselected in the "add as an ask" form."""
    result = kb.retriever.search(text)
    return result.candidates[0].item if result.candidates else ""


def overview(editor: GuideEditor, reports: Reports, kb: KnowledgeBase, days: int) -> dict[str, Any]:
    """Every guide with its review state, last change and open reports; the report queue; unanswered questions."""
    today = dt.date.today()
    latest = editor.latest()
    counts = reports.open_counts()
    guides = sorted(editor.library.guides.values(), key=lambda g: g.code)
    return {
        "rows": [GuideRow(g, g.review.due(today), latest.get(g.code), counts.get(g.code, 0)) for g in guides],
        "reports": reports.open(),
        "titles": {g.code: g.title for g in guides},
        "unanswered": [UnansweredRow(t, n, suggested_item(kb, t)) for t, n in editor.unanswered(days)],
        "days": days,
    }


# ---- folders of YAML files (menpai guides export / import)


def export_guides(editor: GuideEditor, out: Path) -> list[tuple[str, int]]:
    """Write every published guide (the database version where there is one, else the file) to out/<code>.yaml."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for code in sorted(editor.library.guides):
        version = editor.current_version(code)
        (out / f"{code}.yaml").write_text(normalize_text(editor.version_text(code, version)), encoding="utf-8")
        written.append((code, version))
    return written


@dataclass
class ImportResult:
    published: list[Outcome]
    unchanged: list[str]
    refused: dict[str, list[Problem]]


def import_guides(editor: GuideEditor, folder: Path, *, author_id: int | None = None) -> ImportResult:
    """Publish every <code>.yaml in folder that differs from the published guide.

    Each is validated against the library with the ones before it applied; those refused
    are tried once more after the others (a moved ask is accepted once its old guide let go).
    """
    result = ImportResult([], [], {})
    pending = sorted(folder.glob("*.yaml"))
    for _round in range(2):
        refused: list[Path] = []
        for path in pending:
            code = path.stem
            if code not in editor.library.guides:
                result.refused[code] = [
                    Problem(str(path), None, "code", f"no guide {code!r} in the library", "a guide's code", "")
                ]
                continue
            try:
                outcome = editor.publish(
                    code, path.read_text(encoding="utf-8"), author_id=author_id, note=f"导入自 {folder}"
                )
            except GuideInvalid as exc:
                result.refused[code] = [_in_file(p, path, code) for p in exc.problems]
                refused.append(path)
                continue
            result.refused.pop(code, None)
            if outcome.changed:
                result.published.append(outcome)
            else:
                result.unchanged.append(code)
        if not refused or len(refused) == len(pending):
            break
        pending = refused
    return result


def _in_file(problem: Problem, path: Path, code: str) -> Problem:
    """A problem found in the imported text names the imported file, not guides/items/."""
    if not problem.file.endswith(f"items/{code}.yaml"):
        return problem
    return Problem(str(path), problem.line, problem.field, problem.message, problem.expected, problem.hint)
