"""Canned replies (快捷回复): team-wide ones kept by supervisors, and each agent's own.

A reply's text may name variables, filled in for the chat it is inserted into; the agent then
edits the text before sending it (nothing is sent on insert):

* ``{门牌地址}`` — the address of the resident's door plate;
* ``{攻略清单}`` — the checklist of the guide the chat is about (一次性告知, as the SMS copy);
* ``{最近大厅}`` — the nearest hall that handles that item (or any hall), with its address, phone and hours now.

A variable that cannot be filled (no plate scanned, no guide talked about) becomes a bracketed
note for the agent to replace, never an empty hole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.errors import BadRequest
from knowledge.halls import nearest_halls
from knowledge.hours import Clock, SystemClock
from knowledge.service import KnowledgeBase
from web.db.store import Store
from web.db.tables import CannedReply, Conversation, Staff, StaffRole
from web.helpdesk.auth import Forbidden
from web.render.plain import render_text

VARIABLES = {
    "门牌地址": "群众扫的门牌地址",
    "攻略清单": "正在谈的事项的材料清单（一次性告知）",
    "最近大厅": "离门牌最近、能办这件事的大厅（地址、电话、现在是否办公）",
}
_VARIABLE = re.compile(r"\{([^{}]{1,8})\}")
MISSING = {
    "门牌地址": "【未扫门牌，请问群众地址】",
    "攻略清单": "【还没谈到具体事项，请选攻略清单】",
    "最近大厅": "【未扫门牌，无法定位最近大厅】",
}


class NotYours(Forbidden):
    """A team-wide reply (supervisors keep them) or another agent's own."""


def check_body(body: str) -> None:
    """Refuse a reply naming a variable we do not know (a typo would reach the resident)."""
    unknown = sorted({m for m in _VARIABLE.findall(body) if m not in VARIABLES})
    if unknown:
        raise BadRequest(
            f"unknown variable(s) {', '.join('{' + u + '}' for u in unknown)}: use {', '.join('{' + v + '}' for v in VARIABLES)}"
        )


@dataclass
class CannedReplies:
    store: Store
    kb: KnowledgeBase
    clock: Clock = field(default_factory=SystemClock)

    def usable(self, staff: Staff) -> list[CannedReply]:
        return self.store.canned.usable_by(staff.id)

    def add(self, staff: Staff, title: str, body: str, *, team: bool) -> CannedReply:
        """A team-wide reply (supervisors only) or the staff member's own."""
        check_body(body)
        if team and staff.role is not StaffRole.SUPERVISOR:
            raise NotYours("team-wide canned replies are kept by supervisors")
        return self.store.canned.add(
            title.strip(), body.strip(), owner_id=None if team else staff.id, created_by=staff.id
        )

    def _editable(self, staff: Staff, reply_id: int) -> CannedReply:
        reply = self.store.canned.get(reply_id)
        if reply.owner_id is None and staff.role is not StaffRole.SUPERVISOR:
            raise NotYours("team-wide canned replies are kept by supervisors")
        if reply.owner_id is not None and reply.owner_id != staff.id:
            raise NotYours("this canned reply is another staff member's own")
        return reply

    def update(self, staff: Staff, reply_id: int, title: str, body: str) -> CannedReply:
        check_body(body)
        self._editable(staff, reply_id)
        return self.store.canned.update(reply_id, title.strip(), body.strip())

    def delete(self, staff: Staff, reply_id: int) -> None:
        self._editable(staff, reply_id)
        self.store.canned.delete(reply_id)

    def fill(self, staff: Staff, reply_id: int, conv: Conversation) -> str:
        """The reply's text for this chat, its variables filled (only a reply this staff member may use)."""
        reply = self.store.canned.get(reply_id)
        if reply.owner_id is not None and reply.owner_id != staff.id:
            raise NotYours("this canned reply is another staff member's own")
        values = self.values(conv)
        return _VARIABLE.sub(lambda m: values.get(m[1], m[0]), reply.body)

    def values(self, conv: Conversation) -> dict[str, str]:
        lib = self.kb.library
        plate = lib.plates.get(conv.plate or "")
        item = conv.item if conv.item in lib.guides else None
        values = dict(MISSING)
        if plate is not None:
            values["门牌地址"] = plate.full_address
            near = nearest_halls(
                lib.halls.values(), plate.lng, plate.lat, self.clock.now(), lib.holidays, item=item, limit=1
            )
            if not near and item:
                near = nearest_halls(lib.halls.values(), plate.lng, plate.lat, self.clock.now(), lib.holidays, limit=1)
            if near:
                h = near[0]
                values["最近大厅"] = (
                    f"{h.hall.name}（{h.hall.address}，约{h.distance_text}，电话{h.hall.phone}，{h.status.label}）"
                )
        if item is not None:
            values["攻略清单"] = render_text(self.kb.answer(item, None))
        return values
