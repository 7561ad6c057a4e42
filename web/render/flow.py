"""A guide's steps as an illustrated flow (图示化): blocks of steps, the online path beside the hall's.

``flow_of(guide)`` groups the steps: a step every resident takes stands alone; a run of steps
that differ by path (at the hall / online) becomes two lanes side by side. Each step keeps its
number in the guide's order, its icon, how long it takes, and which trip to the hall it is
("第1趟"). The template (``_flow.html``) draws it with inline SVG icons: nothing to fetch, large
type, high contrast, and the steps themselves as the text alternative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from knowledge.schema import Guide, Step, StepKind, StepPath

ICON_LABELS = {
    StepKind.PREPARE: "在家准备",
    StepKind.ONLINE: "网上办",
    StepKind.QUEUE: "取号",
    StepKind.WINDOW: "窗口办理",
    StepKind.WAIT: "等待",
    StepKind.COLLECT: "领取",
    StepKind.POST: "邮寄到家",
    StepKind.DONE: "办好了",
}


@dataclass(frozen=True)
class FlowStep:
    number: int
    text: str
    kind: str
    label: str
    takes: str
    trip: int | None  # which trip to the hall this step is (1, 2, …), None when it is not one


@dataclass
class FlowBlock:
    """One step for everyone, or two lanes (at the hall / online) for the same part of the way."""

    shared: FlowStep | None = None
    hall: list[FlowStep] = field(default_factory=list)
    online: list[FlowStep] = field(default_factory=list)

    @property
    def lanes(self) -> bool:
        return self.shared is None


@dataclass
class Flow:
    blocks: list[FlowBlock]
    steps: int
    trips: int  # trip steps along the hall path
    has_online: bool

    @property
    def summary(self) -> str:
        """The flow in one sentence (screen readers, read-aloud, print)."""
        text = f"共{self.steps}步"
        text += f"，到大厅{self.trips}趟" if self.trips else "，不用去大厅"
        return text + ("；网上也能办，见右边一列。" if self.has_online else "。")


def _step(number: int, s: Step, trip: int | None) -> FlowStep:
    return FlowStep(number, s.text, s.kind.value, ICON_LABELS[s.kind], s.takes, trip)


def flow_of(guide: Guide) -> Flow:
    blocks: list[FlowBlock] = []
    trips = 0
    for n, s in enumerate(guide.steps, 1):
        trip = None
        if s.trip:
            trips += 1
            trip = trips
        step = _step(n, s, trip)
        if s.path is StepPath.BOTH:
            blocks.append(FlowBlock(shared=step))
            continue
        if not blocks or not blocks[-1].lanes:
            blocks.append(FlowBlock())
        (blocks[-1].hall if s.path is StepPath.HALL else blocks[-1].online).append(step)
    has_online = any(s.path is StepPath.ONLINE for s in guide.steps)
    return Flow(blocks, len(guide.steps), trips, has_online)
