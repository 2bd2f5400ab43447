"""The console's guard: sign-in, CSRF, roles and response headers, as one middleware.

- Every route but the sign-in page and the static files needs a session: an HTML
  request is sent to the sign-in page (302), a JSON or script request gets 401.
- Every POST carries the CSRF token (form field ``csrf`` or header
  ``X-CSRF-Token``): the session's, or before sign-in the one the login form set
  in its own cookie. Without it: 403.
- Handlers marked with :func:`writes` refuse viewers (403).
- Cookies are HttpOnly and SameSite=Strict, and Secure when the request came over
  HTTPS (directly, or per ``X-Forwarded-Proto`` from a ``[server] trusted_proxies``
  peer).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from console.accounts import Account
from console.sessions import Session
from hub.clients import ClientAddresses

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "Guard",
    "is_https",
    "set_cookie",
    "writes",
]

SESSION_COOKIE = "sb_admin"
LOGIN_COOKIE = "sb_admin_login"  # the sign-in form's CSRF token, before there is a session

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Callable[..., Any])

SESSION_KEY: web.RequestKey[Session] = web.RequestKey("console_session", Session)
ACCOUNT_KEY: web.RequestKey[Account] = web.RequestKey("console_account", Account)

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def writes(handler: H) -> H:
    """Mark a handler as changing something: admins only."""
    handler.console_writes = True  # type: ignore[attr-defined]
    return handler


def public(handler: H) -> H:
    """Mark a handler as reachable without a session (the sign-in page, static files)."""
    handler.console_public = True  # type: ignore[attr-defined]
    return handler


def is_https(request: web.Request, proxies: ClientAddresses) -> bool:
    if request.secure:
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and proxies.from_proxy(request)


def set_cookie(
    response: web.StreamResponse, request: web.Request, proxies: ClientAddresses,
    name: str, value: str, max_age: float | None = None,
) -> None:
    response.set_cookie(
        name, value, path="/admin", httponly=True, samesite="Strict",
        secure=is_https(request, proxies), max_age=int(max_age) if max_age else None,
    )


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path.endswith(".json")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or ("application/json" in accept and "text/html" not in accept)
        or "text/event-stream" in accept
    )


def session_of(request: web.Request) -> Session:
    return request[SESSION_KEY]


def account_of(request: web.Request) -> Account:
    return request[ACCOUNT_KEY]


class Guard:
    """The middleware; ``find`` maps a cookie to (session, account) or None."""

    def __init__(
        self,
        find: Callable[[str | None], Awaitable[tuple[Session, Account] | None]],
        login_path: str,
    ) -> None:
        self.find = find
        self.login_path = login_path

    def middleware(self) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                response = await self._guarded(request, handler)
            except web.HTTPException as exc:  # redirects and errors carry the headers too
                exc.headers.update(HEADERS)
                raise
            response.headers.update(HEADERS)
            return response

        return guard

    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if getattr(handler, "console_public", False):
            if request.method == "POST" and not _token_matches(
                await _sent_token(request), request.cookies.get(LOGIN_COOKIE)
            ):
                return _refuse(request, 403, "missing or wrong CSRF token; reload the page")
            return await handler(request)
        found = await self.find(request.cookies.get(SESSION_COOKIE))
        if found is None:
            if wants_json(request):
                return web.json_response({"error": "sign in first"}, status=401)
            raise web.HTTPFound(self.login_path)
        session, account = found
        request[SESSION_KEY], request[ACCOUNT_KEY] = session, account
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if not _token_matches(await _sent_token(request), session.csrf):
                return _refuse(request, 403, "missing or wrong CSRF token; reload the page")
            if getattr(handler, "console_writes", False) and not account.can_write:
                return _refuse(request, 403, "viewers cannot change anything; ask an admin")
        return await handler(request)


async def _sent_token(request: web.Request) -> str | None:
    header = request.headers.get("X-CSRF-Token")
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get("csrf")
        return value if isinstance(value, str) else None
    return None


def _token_matches(sent: str | None, expected: str | None) -> bool:
    return bool(sent and expected) and hmac.compare_digest(str(sent), str(expected))


def _refuse(request: web.Request, status: int, text: str) -> web.Response:
    if wants_json(request):
        return web.json_response({"error": text}, status=status)
    return web.Response(status=status, text=text, content_type="text/plain")
