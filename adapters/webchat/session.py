"""Webchat sessions: unguessable, signed tokens, and a per-session rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets

from hub.config import secret
from hub.store import Keys, Store

__all__ = ["SessionSigner", "TokenBucket"]

logger = logging.getLogger(__name__)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SessionSigner:
    """Issues ``<session id>.<hmac>`` tokens and checks them.

    The key comes from the environment variable ``secret_env`` names; without
    one, a random key is created once and kept in the store, so sessions
    survive a restart when the store is Redis.
    """

    def __init__(self, store: Store, secret_env: str) -> None:
        self.store = store
        self.secret_env = secret_env
        self._key = b""

    async def load(self) -> None:
        configured = secret(self.secret_env)
        if configured:
            self._key = configured.encode()
            return
        stored = await self.store.get(Keys.webchat_secret())
        if not stored:
            stored = secrets.token_hex(32)
            await self.store.set(Keys.webchat_secret(), stored)
            logger.info("webchat: %s not set; generated a session key in the store", self.secret_env)
        self._key = str(stored).encode()

    def new_session(self) -> str:
        return secrets.token_hex(16)

    def sign(self, session: str) -> str:
        if not self._key:
            raise RuntimeError("SessionSigner.load() was not awaited")
        mac = hmac.new(self._key, session.encode(), hashlib.sha256).digest()[:18]
        return f"{session}.{_b64(mac)}"

    def verify(self, token: str) -> str | None:
        """The session id inside a valid token, else None."""
        session, _, _ = token.partition(".")
        if not session or len(session) > 64:
            return None
        return session if hmac.compare_digest(self.sign(session), token) else None


class TokenBucket:
    """``burst`` messages at once, refilled at ``per_s`` a second."""

    def __init__(self, burst: int, per_s: float) -> None:
        self.capacity = float(burst)
        self.rate = per_s
        self.tokens = float(burst)
        self.at: float | None = None

    def take(self, now: float) -> bool:
        if self.at is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
