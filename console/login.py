"""Sign in and out: rate-limited per client address and per user name, and audited."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from aiohttp import web

from console.paths import PREFIX
from console.security import LOGIN_COOKIE, SESSION_COOKIE, public, session_of, set_cookie
from hub.store import Keys, RateLimit

if TYPE_CHECKING:
    from console.app import Console

__all__ = ["routes"]

logger = logging.getLogger(__name__)

MAX_NAME = 64
MAX_PASSWORD = 1024


def routes(console: Console, router: web.UrlDispatcher) -> None:
    @public
    async def login_page(request: web.Request) -> web.Response:
        return _form(console, request)

    @public
    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        name = str(form.get("name", ""))[:MAX_NAME]
        password = str(form.get("password", ""))[:MAX_PASSWORD]
        client = console.proxies.client_ip(request)
        if not await _allowed(console, client, name):
            await console.audit(name or "-", "sign-in refused", f"rate limited; from {client}")
            return _form(console, request, "Too many attempts. Wait a minute and try again.", 429)
        account = await console.accounts.verify(name, password)
        if account is None:
            await console.audit(name or "-", "sign-in failed", f"from {client}")
            return _form(console, request, "Wrong name or password.", 401)
        session = await console.sessions.open(account.name)
        await console.audit(account.name, "sign-in", f"{account.role}, from {client}")
        response = web.HTTPFound(f"{PREFIX}/conversations")
        set_cookie(response, request, console.proxies, SESSION_COOKIE, session.token,
                   console.sessions.ttl_s)
        response.del_cookie(LOGIN_COOKIE, path="/admin")
        raise response

    async def logout(request: web.Request) -> web.Response:
        session = session_of(request)
        await console.sessions.close(session.token)
        await console.audit(session.user, "sign-out")
        response = web.HTTPFound(f"{PREFIX}/login")
        response.del_cookie(SESSION_COOKIE, path="/admin")
        raise response

    router.add_get("/login", login_page)
    router.add_post("/login", login)
    router.add_post("/logout", logout)


def _form(console: Console, request: web.Request, error: str = "", status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(32)
    response = console.render(request, "login.html", status=status, csrf=token, error=error)
    set_cookie(response, request, console.proxies, LOGIN_COOKIE, token, 3600)
    return response


async def _allowed(console: Console, client: str, name: str) -> bool:
    per_min = console.hub.config.admin.login_attempts_per_min
    limits = [
        RateLimit(Keys.admin_login_ip(client), per_min, per_min / 60),
        RateLimit(Keys.admin_login_user(name.lower() or "-"), per_min, per_min / 60),
    ]
    return await console.hub.store.take_tokens(limits)
