"""Signed-in sessions, kept in the store so every hub process knows them.

The cookie holds a random token; the store keeps only its SHA-256 (a leaked
store dump signs no one in), with the user's name and the session's CSRF token,
for ``[admin] session_ttl_s`` after the last request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from hub.store import Keys, Store

__all__ = ["Session", "SessionBook"]


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user: str
    csrf: str
    started_at: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionBook:
    def __init__(self, store: Store, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s

    async def open(self, user: str) -> Session:
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), time.time())
        await self._save(session)
        return session

    async def find(self, token: str | None) -> Session | None:
        """The live session of ``token``; each use renews it (a sliding expiry)."""
        if not token or len(token) > 128:
            return None
        data = await self.store.get(Keys.admin_session(_digest(token)))
        if not isinstance(data, dict):
            return None
        session = Session(token, str(data["user"]), str(data["csrf"]), float(data["at"]))
        await self._save(session)
        return session

    async def close(self, token: str) -> None:
        await self.store.delete(Keys.admin_session(_digest(token)))

    async def _save(self, session: Session) -> None:
        value = {"user": session.user, "csrf": session.csrf, "at": session.started_at}
        await self.store.set(Keys.admin_session(_digest(session.token)), value, self.ttl_s)
