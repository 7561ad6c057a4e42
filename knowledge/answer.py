"""The Answer: everything a resident needs for one item and situation, in one go.

Built from a guide (never from free text), then rendered as plain text for
WeChat and 12345 staff, or as an HTML fragment for the web widget.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel

from knowledge.library import Library
from knowledge.places import nearest_halls
from knowledge.retrieval import Aspect
from knowledge.schema import Guide, Material, MaterialForm

WECHAT_TEXT_LIMIT = 600  # characters; WeChat's passive text reply is capped at 2048 bytes


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


class SituationOption(BaseModel):
    id: str
    name: str
    when: str


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
    members: list[dict[str, str]] = []
    retrieval_only: bool = False
    confidence: float | None = None
    url: str


DRAFT_NOTICE = "示例内容，尚未经窗口核实"


def fee_text(guide: Guide, situation: str | None = None) -> str:
    """The fee a resident pays in this situation, in plain words (the basis is shown apart)."""
    fee = guide.fee_for(situation)
    return "不收费" if fee.free else fee.amount


def time_text(guide: Guide, situation: str | None = None) -> str:
    t = guide.time_limit_for(situation)
    return ("当场办结；" if t.same_day else "") + f"承诺{t.promised}（法定{t.legal}）"


def review_text(answer: Answer) -> str:
    """Who checked the guide, said honestly: a draft is never called checked."""
    if answer.review != "verified":
        return f"{DRAFT_NOTICE}（编写于{answer.compiled_on}）"
    text = f"{answer.verified_by}于{answer.verified_on}核实"
    return text + ("，已到复核时间" if answer.review_due else "")


def build_answer(
    lib: Library,
    code: str,
    situation: str | None = None,
    aspect: Aspect | None = None,
    *,
    lng: float | None = None,
    lat: float | None = None,
    now: dt.datetime | None = None,
    base_url: str = "",
) -> Answer:
    """Assemble the Answer for an item; a missing situation means "first, and ask back"."""
    guide = lib.guides[code]
    chosen = guide.situation(situation) if situation or len(guide.situations) == 1 else None
    shown = chosen or guide.situations[0]
    halls = []
    if lng is not None and lat is not None and guide.where.levels:
        for near in nearest_halls(
            lib.halls.values(), lng, lat, now or dt.datetime.now(dt.UTC), lib.holidays, item=code, limit=3
        ):
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
        situations=[SituationOption(id=s.id, name=s.name, when=s.when) for s in guide.situations],
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
        review_due=guide.review.due((now or dt.datetime.now(dt.UTC)).date()),
        sample=guide.sample,
        url=f"{base_url}/g/{code}",
    )


# ---------------------------------------------------------------- rendering


def render_text(answer: Answer, limit: int | None = None) -> str:
    """Plain text for WeChat and the 12345 agent (ready to paste into an SMS).

    With a limit the checklist is kept whole and the extras are cut first,
    ending with the link to the full guide.
    """
    head = [f"【{answer.title}】"]
    if answer.situation_name:
        head.append(f"情形：{answer.situation_name}")
    elif len(answer.situations) > 1:
        head.append("您属于哪种情况？" + "；".join(f"{i}.{s.name}" for i, s in enumerate(answer.situations, 1)))
        head.append(f"先按“{answer.situations[0].name}”告诉您：")
    focus: list[str] = []
    aspect = Aspect(answer.aspect)
    if aspect is Aspect.FEE:
        focus.append(f"费用：{answer.fee}")
    elif aspect is Aspect.TIME:
        focus.append(f"多久办好：{answer.time_limit}")
    elif aspect in (Aspect.WHERE, Aspect.HOURS):
        focus.append(f"在哪办：{answer.where}")
        for h in answer.halls[:2]:
            focus.append(f"· {h.name}（{h.distance}，{h.status}）{h.address} 电话{h.phone}")
    elif aspect is Aspect.ONLINE:
        focus.append("网上能办完，不用跑腿。" if answer.fully_online else "网上可以先办一部分：")
        focus += [f"· {c.name}：{c.how or c.url or ''}" for c in answer.channels]
    checklist = ["要带的材料："]
    for n, c in enumerate(answer.checklist, 1):
        line = f"{n}. {c.label}"
        extra = []
        if c.optional:
            extra.append(c.notes or "特定情况才要")
        elif c.notes:
            extra.append(c.notes)
        if extra:
            line += "——" + "；".join(extra)
        checklist.append(line)
    rest = [f"费用：{answer.fee}", f"时间：{answer.time_limit}", f"在哪办：{answer.where}"]
    if answer.fully_online:
        rest.append("可以全程网上办：" + "、".join(c.name for c in answer.channels))
    if answer.prerequisites:
        rest.append("先要办好：" + "、".join(p["title"] for p in answer.prerequisites))
    rest += [f"提示：{t}" for t in answer.tips[:2]]
    footer = [f"详情：{answer.url}", f"（{review_text(answer)}）"]
    if answer.retrieval_only:
        footer.insert(0, "（智能助手暂时忙，以上为自动检索结果，可回复“人工”找工作人员）")
    blocks = [head, focus, checklist, rest, footer]
    text = "\n".join(line for block in blocks for line in block)
    if limit is None or len(text) <= limit:
        return text
    text = "\n".join([*head, *focus, *checklist, *footer])
    if len(text) <= limit:
        return text
    return text[: limit - len(footer[-2]) - 2] + "…\n" + footer[-2]


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_html(answer: Answer) -> str:
    """The answer as an HTML fragment (the one-time notification card)."""
    return _env().get_template("_answer.html").render(a=answer, review=review_text(answer))
