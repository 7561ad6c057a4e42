"""An Answer as plain text: for SMS, the 12345 agent's paste box, the CLI and (within its budget) WeChat.

With a budget the checklist is kept whole and the extras are cut first, ending with the
link to the full guide. A budget counts what the channel counts: characters by default,
UTF-8 bytes for WeChat (``web.render.wechat``).
"""

from __future__ import annotations

from collections.abc import Callable

from knowledge.answer import Answer
from knowledge.retrieval import Aspect
from web.render.sentences import SAY, trips_badge

Measure = Callable[[str], int]


def review_text(answer: Answer) -> str:
    """Who checked the guide, said honestly: a draft is never called checked."""
    if answer.review != "verified":
        return f"{SAY['draft']}（编写于{answer.compiled_on}）"
    text = f"{answer.verified_by}于{answer.verified_on}核实"
    return text + ("，已到复核时间" if answer.review_due else "")


def cut(text: str, limit: int, measure: Measure = len) -> str:
    """The longest prefix of text (plus "…") within limit, never breaking a character."""
    if measure(text) <= limit:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # binary search on characters: measure may count bytes
        mid = (lo + hi + 1) // 2
        if measure(text[:mid] + "…") <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def render_text(answer: Answer, limit: int | None = None, measure: Measure = len) -> str:
    """The whole one-time notification as text; within ``limit`` (as ``measure`` counts) when given."""
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
    rest = [
        f"费用：{answer.fee}",
        f"时间：{answer.time_limit}",
        f"在哪办：{answer.where}",
        f"跑几次：{trips_badge(answer.trips.count)}（{answer.trips.why}）",
    ]
    if answer.fully_online:
        rest.append("可以全程网上办：" + "、".join(c.name for c in answer.channels))
    if answer.prerequisites:
        rest.append("先要办好：" + "、".join(p["title"] for p in answer.prerequisites))
    rest += [f"提示：{t}" for t in answer.tips[:2]]
    footer = [f"详情：{answer.url}", f"（{review_text(answer)}）"]
    if answer.retrieval_only:
        footer.insert(0, SAY["retrieval_only_text"])
    blocks = [head, focus, checklist, rest, footer]
    text = "\n".join(line for block in blocks for line in block)
    if limit is None or measure(text) <= limit:
        return text
    text = "\n".join([*head, *focus, *checklist, *footer])
    if measure(text) <= limit:
        return text
    link = footer[-2]
    return cut(text, limit - measure(link) - 1, measure) + "\n" + link


def carry_text(answer: Answer, url: str, hall: str = "", hours: str = "") -> str:
    """发到手机: the checklist as a short text to copy into a chat or an SMS — what to bring, the fee,
    where to go (and when), and the link back to the guide."""
    lines = [f"【{answer.title}】" + (f"{answer.situation_name}" if answer.situation_name else "")]
    lines.append("要带：" + "；".join(f"{n}.{c.label}" for n, c in enumerate(answer.checklist, 1)))
    lines.append(f"费用：{answer.fee}")
    if hall:
        lines.append(f"去：{hall}" + (f"（{hours}）" if hours else ""))
    lines.append(f"{trips_badge(answer.trips.count)}。详情：{url}")
    return "\n".join(lines)
