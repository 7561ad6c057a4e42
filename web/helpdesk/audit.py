"""The audit log's use cases: what counts as looking at or taking out personal data, and the page."""

from __future__ import annotations

import enum

from fastapi import Request

from web.db.store import Store
from web.helpdesk.auth import StaffSession, client_ip
from web.privacy import mask_pii

LATEST = 200  # entries on /staff/audit


class Audited(enum.StrEnum):
    TRANSCRIPT = "transcript"  # a conversation's transcript opened (page or whole JSON)
    EXPORT_CSV = "workorders.csv"  # every work order exported as CSV
    ORDER_JSON = "workorder.json"  # one work order read through the JSON API
    LOOKUP = "hotline.lookup"  # a caller's question searched on /staff/hotline
    PHOTO = "photo"  # a resident's photo opened (a WeChat image, a pre-check material)
    PRECHECK = "precheck"  # a pre-check request's materials opened
    BOOKINGS = "appointments"  # a day's bookings listed
    SEARCH = "search"  # conversations, tickets, work orders, 帮办 searched on /staff/search
    TRANSCRIPT_CLI = "transcript.cli"  # a transcript printed by an operator (`menpai transcript`)


LABELS = {
    Audited.TRANSCRIPT: "查看会话记录",
    Audited.EXPORT_CSV: "导出工单 CSV",
    Audited.ORDER_JSON: "读取工单（JSON）",
    Audited.LOOKUP: "12345 查攻略",
    Audited.PHOTO: "查看居民照片",
    Audited.PRECHECK: "查看预审材料",
    Audited.BOOKINGS: "查看预约名单",
    Audited.SEARCH: "搜索记录",
    Audited.TRANSCRIPT_CLI: "命令行导出会话记录",
}


def record(store: Store, request: Request, session: StaffSession, action: Audited, target: str) -> None:
    """Who (the staff member), what (action and target, personal data masked), when, from which IP."""
    store.audit.record(
        staff_id=session.staff.id,
        username=session.staff.username,
        action=action.value,
        target=mask_pii(target),
        ip=client_ip(request),
    )


def record_operator(store: Store, operator: str, action: Audited, target: str) -> None:
    """An operator's command on this machine (no staff account, no IP): who ran it, what, when."""
    store.audit.record(
        staff_id=None, username=f"operator:{operator}"[:64], action=action.value, target=mask_pii(target), ip="cli"
    )
