"""FastAPI dependencies of the help desk's routes: typed views of what lifespan put on app.state.

``async def`` like web/deps.py: a plain ``def`` dependency would hop to the thread pool; the session
check reads the database, so it runs there (``in_thread``), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Form, Request

from web.channels.delivery import Delivery, Notifier
from web.chat.routing import Router
from web.db.engine import in_thread
from web.db.tables import StaffRole
from web.helpdesk.auth import Auth, StaffSession
from web.helpdesk.canned import CannedReplies
from web.helpdesk.editor import GuideEditor, Reports
from web.helpdesk.rectification import Rectification
from web.helpdesk.roles import PERMISSIONS, Action
from web.helpdesk.workorders import WorkOrders
from web.render.pages import Renderer

CsrfField = Annotated[str, Form(alias="csrf", max_length=64)]


def renderer(request: Request) -> Renderer:
    """The page renderer (set in create_app, before any request)."""
    found: Renderer = request.app.state.renderer
    return found


async def get_auth(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


async def staff_session(request: Request, auth: Annotated[Auth, Depends(get_auth)]) -> StaffSession:
    """Any logged-in staff member: only for logging out; every other route names its Action."""
    return await in_thread(auth.require, request)


SessionDependency = Callable[[Request, Auth], Awaitable[StaffSession]]
# The dependency of each Action, and back: tests walk the routes and look their dependencies up here.
ROLE_DEPENDENCIES: dict[SessionDependency, Action] = {}


def role_session(action: Action) -> SessionDependency:
    """A dependency: the logged-in staff member, when their role may take ``action`` (else 403)."""
    roles = [r for r in StaffRole if r in PERMISSIONS[action]]

    async def dependency(request: Request, auth: Annotated[Auth, Depends(get_auth)]) -> StaffSession:
        return await in_thread(auth.require, request, *roles)

    dependency.__name__ = f"{action.value}_session"
    ROLE_DEPENDENCIES[dependency] = action
    return dependency


async def get_orders(request: Request) -> WorkOrders:
    orders: WorkOrders = request.app.state.workorders
    return orders


async def get_editor(request: Request) -> GuideEditor:
    editor: GuideEditor = request.app.state.editor
    return editor


async def get_reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


async def get_delivery(request: Request) -> Delivery:
    delivery: Delivery = request.app.state.delivery
    return delivery


async def get_notifier(request: Request) -> Notifier:
    notifier: Notifier = request.app.state.notifier
    return notifier


async def get_router(request: Request) -> Router:
    router: Router = request.app.state.router
    return router


async def get_canned(request: Request) -> CannedReplies:
    canned: CannedReplies = request.app.state.canned
    return canned


async def get_rectification(request: Request) -> Rectification:
    rectification: Rectification = request.app.state.rectification
    return rectification


Session = Annotated[StaffSession, Depends(staff_session)]
ConsoleSession = Annotated[StaffSession, Depends(role_session(Action.CONSOLE))]
ChatSession = Annotated[StaffSession, Depends(role_session(Action.CHATS))]
TicketSession = Annotated[StaffSession, Depends(role_session(Action.TICKETS))]
AgencySession = Annotated[StaffSession, Depends(role_session(Action.AGENCY))]
HotlineSession = Annotated[StaffSession, Depends(role_session(Action.HOTLINE))]
OrdersSession = Annotated[StaffSession, Depends(role_session(Action.WORKORDERS))]
SupervisorSession = Annotated[StaffSession, Depends(role_session(Action.SUPERVISE))]
StatsSession = Annotated[StaffSession, Depends(role_session(Action.STATS))]
AuditSession = Annotated[StaffSession, Depends(role_session(Action.AUDIT))]
AppointmentsSession = Annotated[StaffSession, Depends(role_session(Action.APPOINTMENTS))]
EditorSession = Annotated[StaffSession, Depends(role_session(Action.EDIT))]
Orders = Annotated[WorkOrders, Depends(get_orders)]
Editor = Annotated[GuideEditor, Depends(get_editor)]
ReportsDep = Annotated[Reports, Depends(get_reports)]
DeliveryDep = Annotated[Delivery, Depends(get_delivery)]
NotifierDep = Annotated[Notifier, Depends(get_notifier)]
SearchSession = Annotated[StaffSession, Depends(role_session(Action.SEARCH))]
RectifySession = Annotated[StaffSession, Depends(role_session(Action.RECTIFY))]
RouterDep = Annotated[Router, Depends(get_router)]
CannedDep = Annotated[CannedReplies, Depends(get_canned)]
RectificationDep = Annotated[Rectification, Depends(get_rectification)]
