"""Staff login: argon2 hashes, signed HttpOnly SameSite session cookies, CSRF tokens, lockout."""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import logging
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from knowledge.errors import MenpaiError
from knowledge.settings import Environment, Settings
from web.db.store import Store
from web.db.tables import Staff, StaffRole, utcnow

logger = logging.getLogger(__name__)

COOKIE = "menpai_staff"
SESSION_SECONDS = 12 * 3600
LOCK_AFTER = 5
LOCK_FOR = dt.timedelta(minutes=15)
ROLE_LABELS = {
    StaffRole.AGENT: "坐席",
    StaffRole.SUPERVISOR: "值班长",
    StaffRole.HOTLINE: "12345坐席",
    StaffRole.EDITOR: "内容编辑",
}
_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class LoginRequired(MenpaiError):
    status = 401
    code = "login_required"


class Forbidden(MenpaiError):
    status = 403
    code = "forbidden"


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise ValueError("a staff password needs at least 10 characters")
    return _hasher.hash(password)


@dataclass(frozen=True)
class StaffSession:
    staff: Staff
    csrf: str


class Auth:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.store = store
        self.secure = settings.environment is Environment.PRODUCTION
        self.serializer = URLSafeTimedSerializer(settings.secret(), salt="menpai-staff")

    def login(self, username: str, password: str) -> tuple[Staff | None, str]:
        """Check a password. Returns the staff member, or None and the reason to show."""
        staff = self.store.staff.by_username(username.strip())
        if staff is None or not staff.active:
            with contextlib.suppress(VerificationError):
                _hasher.verify(_DUMMY_HASH, password)
            return None, "用户名或密码不对"
        if staff.locked_until and staff.locked_until.replace(tzinfo=dt.UTC) > utcnow():
            return None, "密码错误次数太多，账号已临时锁定，请15分钟后再试或联系管理员"
        try:
            _hasher.verify(staff.password_hash, password)
        except (VerificationError, InvalidHashError):
            self.store.staff.login_result(staff.id, False, LOCK_AFTER, LOCK_FOR)
            logger.warning("failed staff login for %s", staff.username)
            return None, "用户名或密码不对"
        self.store.staff.login_result(staff.id, True, LOCK_AFTER, LOCK_FOR)
        return staff, ""

    def cookie_value(self, staff: Staff) -> str:
        return self.serializer.dumps({"sid": staff.id, "csrf": secrets.token_urlsafe(24)})

    def session(self, request: Request) -> StaffSession | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self.serializer.loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        staff = self.store.staff.get(int(data.get("sid", 0)))
        if staff is None or not staff.active:
            return None
        return StaffSession(staff, str(data.get("csrf", "")))

    def require(self, request: Request, *roles: StaffRole) -> StaffSession:
        session = self.session(request)
        if session is None:
            raise LoginRequired("请先登录工作人员后台")
        if roles and session.staff.role not in roles:
            raise Forbidden(f"这个页面只有{'和'.join(ROLE_LABELS[r] for r in roles)}可以看")
        return session

    @staticmethod
    def check_csrf(session: StaffSession, token: str) -> None:
        if not token or not hmac.compare_digest(session.csrf, token):
            raise Forbidden("表单已过期，请刷新页面再提交（CSRF 校验失败）")
