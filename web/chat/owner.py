"""Who may use a web chat: the holder of the credential that created it, and what leaves us instead of its id.

A browser's credential is its HttpOnly session cookie: a random token, never the
conversation id (ids are shown to staff, in URLs and in logs). An API client without
cookies (the public checker, scripts) names its chat with an id it chose, and that id
is its bearer credential. The conversation row keeps only the SHA-256 of the credential
(``owner``). Chats of other channels (``wx-…``) have no owner: web routes never reach them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CHANNEL_PREFIXES = ("wx-",)  # conversation ids other channels make; web never creates or opens one


def new_token() -> str:
    """A new session-cookie value (48 hex characters)."""
    return secrets.token_hex(24)


def owner_key(credential: str) -> str:
    """What the conversation row keeps of a credential."""
    return hashlib.sha256(credential.encode()).hexdigest()


def channel_owned(conv_id: str) -> bool:
    """An id another channel makes (a WeChat resident's chat): never reachable from web routes."""
    return conv_id.startswith(CHANNEL_PREFIXES)


def may_use(owner: str | None, credentials: list[str]) -> bool:
    """Does one of these credentials (cookie token, an API client's own id) own the chat?"""
    if owner is None:
        return False
    return any(hmac.compare_digest(owner, owner_key(c)) for c in credentials)


def external_ref(secret: str, conv_id: str) -> str:
    """An opaque, stable reference to a conversation for platforms outside (12345): not its id."""
    return hmac.new(secret.encode(), b"conversation:" + conv_id.encode(), hashlib.sha256).hexdigest()[:32]
