"""Online pre-check (在线预审): a 帮办 request's materials, photographed by the resident, marked by staff.

The materials are the checklist of the request's item and situation (``knowledge.answer``): the
same list the resident was told to bring. A photo is cleaned (``web.helpdesk.images``) and kept
until the retention period ends (``web.db.uploads``); staff mark each material 合格 / 缺 / 需补正
with a note; the resident reads the result by the request's code, on the page and in WeChat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from knowledge.answer import ChecklistEntry
from knowledge.errors import BadRequest, NotFound
from knowledge.service import KnowledgeBase
from web.db.store import Store
from web.db.tables import AgencyKind, AgencyRequest, Staff, Upload, Verdict
from web.helpdesk.agency import CLOSED
from web.helpdesk.images import clean_photo
from web.render.sentences import AGENCY_KINDS, AGENCY_STATUS, SAY, VERDICTS, precheck_summary

MAX_PHOTOS_PER_MATERIAL = 4


@dataclass
class MaterialView:
    index: int
    entry: ChecklistEntry
    photos: list[Upload] = field(default_factory=list)
    verdict: str = ""  # a Verdict value; "" = not looked at yet
    verdict_label: str = ""
    note: str = ""


@dataclass
class PrecheckView:
    req: AgencyRequest
    title: str
    materials: list[MaterialView]

    @property
    def reviewed(self) -> bool:
        return all(m.verdict for m in self.materials)

    def summary(self) -> str:
        """The result in one line (WeChat, the status page): every material once all are marked."""
        if not self.reviewed:
            return precheck_summary([])
        return precheck_summary([(m.entry.name, m.verdict, m.note) for m in self.materials])


def _request(store: Store, code: str) -> AgencyRequest:
    req = store.agency.by_code(code)
    if req.kind != AgencyKind.PRECHECK.value:
        raise NotFound(f"查询码 {code} 不是在线预审申请")
    return req


def checklist(kb: KnowledgeBase, req: AgencyRequest) -> list[ChecklistEntry]:
    """The materials of the request's item and situation, as the answer card lists them."""
    return kb.answer(req.item, req.situation).checklist


def view(store: Store, kb: KnowledgeBase, code: str) -> PrecheckView:
    """A pre-check with its photos (those not yet expired) and verdicts."""
    req = _request(store, code)
    entries = checklist(kb, req)
    photos = store.uploads.of_request(req.code)
    reviews = store.prechecks.of_request(req.code)
    materials = []
    for i, entry in enumerate(entries):
        r = reviews.get(i)
        verdict = r.verdict if r else ""
        materials.append(
            MaterialView(
                i,
                entry,
                [p for p in photos if p.material == i],
                verdict,
                VERDICTS.get(verdict, ""),
                r.note if r else "",
            )
        )
    return PrecheckView(req, kb.library.guides[req.item].title, materials)


def upload(store: Store, kb: KnowledgeBase, code: str, material: int, data: bytes, max_bytes: int) -> Upload:
    """Keep a photo of one material of an open pre-check.

    Raises:
        NotFound: no pre-check with this code.
        BadRequest: the request is closed, the material is not on its checklist, too many photos, not a photo.
        PhotoTooLarge: over ``max_bytes`` or too many pixels.
    """
    req = _request(store, code)
    if req.status in CLOSED:
        raise BadRequest("这个申请已经结束，不能再上传")
    entries = checklist(kb, req)
    if not 0 <= material < len(entries):
        raise BadRequest(f"没有第 {material + 1} 项材料：清单共 {len(entries)} 项")
    have = [p for p in store.uploads.of_request(req.code) if p.material == material]
    if len(have) >= MAX_PHOTOS_PER_MATERIAL:
        raise BadRequest(f"每项材料最多传 {MAX_PHOTOS_PER_MATERIAL} 张照片")
    clean = clean_photo(data, max_bytes)
    row = store.uploads.save(clean, purpose="precheck", agency_code=req.code, material=material)
    store.analytics.record("precheck", plate=req.plate, item=req.item, detail=str(material))
    return row


def review(
    store: Store, kb: KnowledgeBase, code: str, material: int, verdict: Verdict, note: str, staff: Staff
) -> None:
    """Staff mark one material 合格 / 缺 / 需补正 (a note is needed for the last two)."""
    req = _request(store, code)
    entries = checklist(kb, req)
    if not 0 <= material < len(entries):
        raise BadRequest(f"没有第 {material + 1} 项材料")
    if verdict is not Verdict.OK and not note.strip():
        raise BadRequest("标“缺”或“需补正”时请写一句说明，居民照着补")
    store.prechecks.mark(req.code, material, verdict.value, note, staff.id)


def status_text(store: Store, kb: KnowledgeBase, code: str) -> str | None:
    """What WeChat answers to a bare request code: status and, for a pre-check, the result (None: no such code)."""
    try:
        req = store.agency.by_code(code)
    except NotFound:
        return None
    guide = kb.library.guides.get(req.item)
    precheck = view(store, kb, code).summary() if req.kind == AgencyKind.PRECHECK.value else ""
    return SAY["wechat_code"].format(
        code=req.code,
        kind=AGENCY_KINDS.get(req.kind, req.kind),
        item=guide.title if guide else req.item,
        status=AGENCY_STATUS[req.status.value],
        precheck=precheck,
        note=f"工作人员留言：{req.staff_note}" if req.staff_note else "",
    )
