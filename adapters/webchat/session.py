"""Webchat sessions: unguessable, signed tokens that expire (a sliding expiry).

A token is a bearer secret: whoever holds it reads and writes the conversation.
Logs never show it, nor the session id (:func:`hub.logs.log_address`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.config import secret
from hub.store import Keys, Store

__all__ = ["SessionSigner", "TokenCheck"]

logger = logging.getLogger(__name__)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = digits[digit] + out
        if not number:
            return out


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """A token's session id when it is valid; ``expired`` when it was, once."""

    session: str | None
    expired: bool = False


class SessionSigner:
    """Issues ``<session id>.<expiry>.<hmac>`` tokens and checks them.

    The expiry (Unix seconds, base 36) is signed with the id; each welcome carries
    a new token ``ttl_s`` from then (a sliding expiry).

    The key comes from the environment variable ``secret_env`` names; without
    one, a random key is created once and kept in the store, so sessions
    survive a restart when the store is Redis.
    """

    def __init__(
        self, store: Store, secret_env: str, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.secret_env = secret_env
        self.ttl_s = ttl_s
        self.clock = clock
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
        """A token for ``session``, valid ``ttl_s`` from now."""
        return self._signed(session, _b36(int(self.clock() + self.ttl_s)))

    def _signed(self, session: str, expiry: str) -> str:
        if not self._key:
            raise RuntimeError("SessionSigner.load() was not awaited")
        body = f"{session}.{expiry}"
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18]
        return f"{body}.{_b64(mac)}"

    def check(self, token: str) -> TokenCheck:
        """The session inside a valid, unexpired token; forged ones give nothing."""
        session, _, rest = token.partition(".")
        expiry, _, _ = rest.partition(".")
        if not session or len(session) > 64 or not expiry or len(expiry) > 12:
            return TokenCheck(None)
        if not hmac.compare_digest(self._signed(session, expiry), token):
            return TokenCheck(None)
        try:
            expired = int(expiry, 36) <= self.clock()
        except ValueError:
            return TokenCheck(None)
        return TokenCheck(None, expired=True) if expired else TokenCheck(session)

    def verify(self, token: str) -> str | None:
        """The session id inside a valid, unexpired token, else None."""
        return self.check(token).session
