"""The Answer: everything a resident needs for one item and situation, in one go.

Built from a guide (never from free text). knowledge renders nothing: web renders
an Answer per channel (``web.render``: plain text, the HTML card, WeChat).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from knowledge.halls import nearest_halls
from knowledge.library import Library
from knowledge.retrieval import Aspect
from knowledge.schema import Guide, Material, MaterialForm


class ChecklistEntry(BaseModel):
    name: str
    form: str
    copies: int
    source: str
    notes: str = ""
    skippable_if_shared: bool = False
    optional: bool = False

    @classmethod
    def from_material(cls, m: Material) -> ChecklistEntry:
        return cls(
            name=m.name,
            form=m.form.value,
            copies=m.copies,
            source=m.source,
            notes=m.notes,
            skippable_if_shared=m.skippable_if_shared,
            optional=m.optional,
        )

    @property
    def label(self) -> str:
        form = self.form
        if self.form == MaterialForm.COPY.value or self.copies > 1:
            form = f"{self.form}{self.copies}份"
        return f"{self.name}（{form}）"


class ChannelOut(BaseModel):
    kind: str
    name: str
    url: str | None = None
    how: str = ""


class HallOut(BaseModel):
    code: str
    name: str
    address: str
    phone: str
    distance: str
    status: str
    state: str
    amap: str
    baidu: str
    tencent: str


class TripsOut(BaseModel):
    """How many times the resident goes in person for the situation shown (到办事现场次数)."""

    count: int
    why: str
    fewer: list[str] = []  # TripSaver values: mail, precheck, online, proxy, appointment
    without: int | None = None


class SituationOption(BaseModel):
    id: str
    name: str
    when: str
    trips: int = 1


class Answer(BaseModel):
    """A complete one-time notification (一次性告知) for one item and situation."""

    item: str
    title: str
    summary: str
    situation: str | None
    situation_name: str | None
    situations: list[SituationOption]
    aspect: str
    checklist: list[ChecklistEntry]
    situation_notes: str = ""
    fee: str
    time_limit: str
    same_day: bool
    fully_online: bool
    channels: list[ChannelOut]
    online_note: str = ""
    where: str
    citywide: bool
    halls: list[HallOut]
    prerequisites: list[dict[str, str]]
    follow_ups: list[dict[str, str]]
    tips: list[str]
    source: str
    source_url: str | None
    basis: list[str] = []
    to_confirm: list[str] = []
    review: str = "draft"
    compiled_on: dt.date
    verified_by: str = ""
    verified_on: dt.date | None = None
    review_due: bool = False
    sample: bool
    trips: TripsOut
    most_trips: int  # over all situations: what a list of services says ("最多跑N次")
    members: list[dict[str, str]] = []
    retrieval_only: bool = False
    confidence: float | None = None
    url: str


def fee_text(guide: Guide, situation: str | None = None) -> str:
    """The fee a resident pays in this situation, in plain words (the basis is shown apart)."""
    fee = guide.fee_for(situation)
    return "不收费" if fee.free else fee.amount


def time_text(guide: Guide, situation: str | None = None) -> str:
    t = guide.time_limit_for(situation)
    return ("当场办结；" if t.same_day else "") + f"承诺{t.promised}（法定{t.legal}）"


def build_answer(
    lib: Library,
    code: str,
    situation: str | None = None,
    aspect: Aspect | None = None,
    *,
    lng: float | None = None,
    lat: float | None = None,
    now: dt.datetime,
    base_url: str = "",
) -> Answer:
    """Assemble the Answer for an item; a missing situation means "first, and ask back"."""
    guide = lib.guides[code]
    chosen = guide.situation(situation) if situation or len(guide.situations) == 1 else None
    shown = chosen or guide.situations[0]
    halls = []
    if lng is not None and lat is not None and guide.where.levels:
        for near in nearest_halls(lib.halls.values(), lng, lat, now, lib.holidays, item=code, limit=3):
            halls.append(
                HallOut(
                    code=near.hall.code,
                    name=near.hall.name,
                    address=near.hall.address,
                    phone=near.hall.phone,
                    distance=near.distance_text,
                    status=near.status.label,
                    state=near.status.state.value,
                    amap=near.nav.amap,
                    baidu=near.nav.baidu,
                    tencent=near.nav.tencent,
                )
            )

    def ref(c: str) -> dict[str, str]:
        g = lib.guides.get(c)
        return {"code": c, "title": g.title if g else lib.catalogue[c].name, "url": f"{base_url}/g/{c}"}

    return Answer(
        item=code,
        title=guide.title,
        summary=guide.summary,
        situation=chosen.id if chosen else None,
        situation_name=chosen.name if chosen else None,
        situations=[SituationOption(id=s.id, name=s.name, when=s.when, trips=s.trips.count) for s in guide.situations],
        aspect=(aspect or Aspect.MATERIALS).value,
        checklist=[ChecklistEntry.from_material(m) for m in shown.materials],
        situation_notes=shown.notes,
        fee=fee_text(guide, chosen.id if chosen else None),
        time_limit=time_text(guide, chosen.id if chosen else None),
        same_day=guide.time_limit_for(chosen.id if chosen else None).same_day,
        fully_online=guide.online.fully_online,
        channels=[
            ChannelOut(kind=c.kind.value, name=c.name, url=str(c.url) if c.url else None, how=c.how)
            for c in guide.online.channels
        ],
        online_note=guide.online.note,
        where=guide.where.note,
        citywide=guide.where.citywide,
        halls=halls,
        prerequisites=[ref(c) for c in guide.prerequisites],
        follow_ups=[ref(c) for c in guide.follow_ups],
        members=[ref(c) for c in guide.members],
        tips=list(guide.tips),
        source=guide.source.name,
        source_url=str(guide.source.url) if guide.source.url else None,
        basis=list(dict.fromkeys(b for b in [*guide.basis, guide.fee_for(chosen.id if chosen else None).basis] if b)),
        to_confirm=list(guide.to_confirm),
        review=guide.review.status.value,
        compiled_on=guide.review.compiled_on,
        verified_by=guide.review.verified_by,
        verified_on=guide.review.verified_on,
        review_due=guide.review.due(now.date()),
        sample=guide.sample,
        trips=TripsOut(
            count=shown.trips.count,
            why=shown.trips.why,
            fewer=[f.value for f in shown.trips.fewer],
            without=shown.trips.without,
        ),
        most_trips=guide.most_trips(),
        url=f"{base_url}/g/{code}",
    )
