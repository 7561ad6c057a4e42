"""Staff login: argon2 hashes, server-side revocable sessions in signed HttpOnly SameSite cookies,
CSRF tokens, lockout per username and IP.

The cookie carries a random session id (signed, as before); the database keeps its SHA-256 with
the staff member, the CSRF token and two times. A session ends at logout (the row is deleted),
after ``MENPAI_STAFF_IDLE_MINUTES`` without a request, or ``SESSION_SECONDS`` after login.
Unknown user, wrong password and locked account get the same message after the same argon2 work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
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
SESSION_SECONDS = 12 * 3600  # absolute lifetime of a session
TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen is written at most this often per session
LOCK_AFTER = 5
LOCK_FOR = dt.timedelta(minutes=15)
MIN_PASSWORD = 12
LOGIN_FAILED = "用户名或密码不对。连续输错5次，这个账号在这台电脑上会临时锁定15分钟；忘记密码请联系值班长。"
ROLE_LABELS = {
    StaffRole.AGENT: "坐席",
    StaffRole.SUPERVISOR: "值班长",
    StaffRole.HOTLINE: "12345坐席",
    StaffRole.EDITOR: "内容编辑",
}
_hasher = PasswordHasher()
# Verified against when the username is unknown or locked, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class LoginRequired(MenpaiError):
    status = 401
    code = "login_required"


class Forbidden(MenpaiError):
    status = 403
    code = "forbidden"


def hash_password(password: str) -> str:
    """The argon2 hash of a new password; refuses one shorter than ``MIN_PASSWORD`` characters."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a staff password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _live_update(request: Request) -> bool:
    """A request the page makes by itself (SSE, a held long poll): not activity for the idle timeout."""
    return request.url.path == "/staff/events" or request.query_params.get("wait", "0") not in ("", "0")


def _session_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StaffSession:
    staff: Staff
    csrf: str
    sid: str = ""  # the stored key of the session (SHA-256 of the cookie's id)


class Auth:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.store = store
        self.secure = settings.environment is Environment.PRODUCTION
        self.idle = dt.timedelta(minutes=settings.staff_idle_minutes)
        self.lifetime = dt.timedelta(seconds=SESSION_SECONDS)
        self.serializer = URLSafeTimedSerializer(settings.secret(), salt="menpai-staff")

    def login(self, username: str, password: str, ip: str = "unknown") -> tuple[Staff | None, str]:
        """Check a password. Returns the staff member, or None and the reason to show (always the same)."""
        name = username.strip()
        locked = self.store.login_attempts.locked(name, ip, utcnow())
        staff = self.store.staff.by_username(name)
        usable = staff is not None and staff.active and not locked
        try:
            _hasher.verify(staff.password_hash if usable and staff else _DUMMY_HASH, password)
            ok = usable
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or staff is None:
            if not locked:
                self.store.login_attempts.fail(name, ip, LOCK_AFTER, LOCK_FOR)
            logger.warning("failed staff login for %r from %s%s", name[:64], ip, " (locked)" if locked else "")
            return None, LOGIN_FAILED
        self.store.login_attempts.clear(name, ip)
        return staff, ""

    def start_session(self, staff: Staff, ip: str) -> str:
        """Store a new session for ``staff``; returns the cookie value (a signed random id)."""
        now = utcnow()
        self.store.staff_sessions.prune(now - self.lifetime, now - self.idle)
        token = secrets.token_urlsafe(32)
        self.store.staff_sessions.add(_session_key(token), staff.id, secrets.token_urlsafe(24), ip)
        return self.serializer.dumps({"s": token})

    def session(self, request: Request, *, touch: bool = True) -> StaffSession | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self.serializer.loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        token = data.get("s") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            return None
        return self.check(_session_key(token), touch=touch)

    def check(self, sid: str, *, touch: bool = False) -> StaffSession | None:
        """The session stored under ``sid`` when it is still valid; ``touch`` counts it as activity."""
        row = self.store.staff_sessions.get(sid)
        if row is None:
            return None
        now = utcnow()
        if now - row.created_at > self.lifetime or now - row.last_seen > self.idle:
            self.store.staff_sessions.delete(sid)
            return None
        staff = self.store.staff.get(row.staff_id)
        if staff is None or not staff.active:
            return None
        if touch and now - row.last_seen > TOUCH_EVERY:
            self.store.staff_sessions.touch(sid, now)
        return StaffSession(staff, row.csrf, sid)

    def end(self, session: StaffSession) -> None:
        """Log out: the session is revoked everywhere at once."""
        self.store.staff_sessions.delete(session.sid)

    def require(self, request: Request, *roles: StaffRole) -> StaffSession:
        session = self.session(request, touch=not _live_update(request))
        if session is None:
            raise LoginRequired("请先登录工作人员后台")
        if roles and session.staff.role not in roles:
            raise Forbidden(f"这个页面只有{'和'.join(ROLE_LABELS[r] for r in roles)}可以看")
        return session

    @staticmethod
    def check_csrf(session: StaffSession, token: str) -> None:
        if not token or not hmac.compare_digest(session.csrf, token):
            raise Forbidden("表单已过期，请刷新页面再提交（CSRF 校验失败）")
