"""Who may do what in the staff console: the one table of staff roles and the actions each may take.

Every /staff and /admin route (except login and logout) declares one ``Action`` through its
session dependency (``web.helpdesk.deps``); a test walks the app's routes and refuses one
without. Templates ask ``can(me, 'workorders')`` to show only what the role may use.
"""

from __future__ import annotations

import enum

from web.db.tables import Staff, StaffRole


class Action(enum.StrEnum):
    CONSOLE = "console"  # /staff: the landing page (editors are sent on to the editor)
    CHATS = "chats"  # the queue, live updates, opening, claiming, answering and finishing chats
    TICKETS = "tickets"  # closing callback and follow-up tickets
    AGENCY = "agency"  # changing the status of a 帮办 request
    HOTLINE = "hotline"  # searching the guides for a caller (SMS-ready checklist)
    WORKORDERS = "workorders"  # 12345 work orders: create, read, advance, export
    SUPERVISE = "supervise"  # the supervisor's board
    STATS = "stats"  # /admin/stats: usage analytics
    AUDIT = "audit"  # /staff/audit: who looked at or exported what
    EDIT = "edit"  # /staff/editor and /staff/api/guides: keeping the guides true
    APPOINTMENTS = "appointments"  # /staff/appointments: the day's bookings at the halls
    SEARCH = "search"  # /staff/search: each kind of record only as the role may see it (below)
    RECTIFY = "rectify"  # 好差评 rectification tasks: advance, appeal (a supervisor decides: SUPERVISE)


_A, _S, _H, _E = StaffRole.AGENT, StaffRole.SUPERVISOR, StaffRole.HOTLINE, StaffRole.EDITOR

PERMISSIONS: dict[Action, frozenset[StaffRole]] = {
    Action.CONSOLE: frozenset({_A, _S, _H, _E}),
    # 12345 agents work the same queue as help-desk agents (StaffRole.HOTLINE).
    Action.CHATS: frozenset({_A, _S, _H}),
    Action.TICKETS: frozenset({_A, _S}),
    Action.AGENCY: frozenset({_A, _S}),
    # Help-desk agents answer the same questions in chats as 12345 agents on the phone.
    Action.HOTLINE: frozenset({_A, _S, _H}),
    Action.WORKORDERS: frozenset({_S, _H}),
    Action.SUPERVISE: frozenset({_S}),
    Action.STATS: frozenset({_S}),
    Action.AUDIT: frozenset({_S}),
    Action.EDIT: frozenset({_E, _S}),
    Action.APPOINTMENTS: frozenset({_A, _S}),
    Action.SEARCH: frozenset({_A, _S, _H}),
    Action.RECTIFY: frozenset({_A, _S}),
}


def allowed(role: StaffRole, action: Action) -> bool:
    return role in PERMISSIONS[action]


def can(staff: Staff, action: str) -> bool:
    """For templates: may this staff member take ``action`` (an Action's value)?"""
    return allowed(staff.role, Action(action))
