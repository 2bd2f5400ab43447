"""The console's aiohttp application, mounted at ``/admin`` on the hub's server.

``build_console(hub)`` returns the sub-application (or None when ``[admin]
users`` is empty: then every /admin route is a 404). Pages live one module per
concept (``conversations``, ``attention``, ``faq_edit``, ``tryit``, ``numbers``,
``experiments``, ``privacy_page``); each has a ``routes(console, router)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from console.accounts import Account, Accounts
from console.paths import PREFIX
from console.security import ACCOUNT_KEY, Guard, account_of, public, session_of
from console.sessions import Session, SessionBook
from console.stats import HourlyStats
from hub.clients import ClientAddresses
from hub.hub import Hub

__all__ = ["CONSOLE_KEY", "PREFIX", "Console", "build_console"]

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
NAV = (
    ("conversations", "Conversations"),
    ("attention", "Needs attention"),
    ("try", "Try it"),
    ("numbers", "Numbers"),
    ("experiments", "Experiments"),
    ("privacy", "Privacy"),
    ("audit", "Audit log"),
)


@dataclass
class Console:
    """What every page needs: the hub, the accounts, the sessions and the templates."""

    hub: Hub
    accounts: Accounts
    sessions: SessionBook
    proxies: ClientAddresses
    stats: HourlyStats
    templates: jinja2.Environment = field(default_factory=lambda: _environment())

    async def signed_in(self, token: str | None) -> tuple[Session, Account] | None:
        session = await self.sessions.find(token)
        if session is None:
            return None
        account = self.accounts.get(session.user)  # a user removed from config is signed out
        if account is None:
            await self.sessions.close(session.token)
            return None
        return session, account

    def render(self, request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
        """A page, with the signed-in user, the CSRF token and the navigation."""
        page = self.templates.get_template(template)
        signed = ACCOUNT_KEY in request
        html = page.render(
            prefix=PREFIX,
            nav=NAV,
            account=account_of(request) if signed else None,
            csrf=session_of(request).csrf if signed else context.pop("csrf", ""),
            **context,
        )
        return web.Response(text=html, content_type="text/html", status=status)

    async def audit(self, actor: str, action: str, detail: str = "") -> None:
        """Every admin action goes to the store's audit log: who, what, when."""
        await self.hub.store.audit(actor, action, detail)


CONSOLE_KEY: web.AppKey[Console] = web.AppKey("console", Console)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # customer text is always escaped
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from console.format import FILTERS

    env.filters.update(FILTERS)
    return env


def build_console(hub: Hub, file: str = "config.toml") -> web.Application | None:
    """The console app, or None when no user is configured (the console is off)."""
    admin = hub.config.admin
    if not admin.enabled:
        return None
    console = Console(
        hub=hub,
        accounts=Accounts.from_config(admin, file),
        sessions=SessionBook(hub.store, admin.session_ttl_s),
        proxies=ClientAddresses(hub.config.server.trusted_proxies),
        stats=HourlyStats(hub.store),
    )
    hub.decision_listeners.append(console.stats.on_decision)
    hub.rating_listeners.append(console.stats.on_rating)
    guard = Guard(console.signed_in, f"{PREFIX}/login")
    app = web.Application(middlewares=[guard.middleware()])
    app[CONSOLE_KEY] = console
    from console import (
        attention,
        audit_page,
        conversations,
        experiments_page,
        faq_edit,
        login,
        numbers,
        privacy_page,
        tryit,
    )

    for page in (login, conversations, attention, faq_edit, tryit, numbers, experiments_page,
                 privacy_page, audit_page):
        page.routes(console, app.router)
    app.router.add_get("/", _home)
    app.router.add_get("/static/{name}", _static)
    app[STATIC_KEY] = _static_files()
    logger.info("console at %s/ for %d users", PREFIX, len(console.accounts))
    return app


async def _home(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"{PREFIX}/conversations")


STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
STATIC_KEY: web.AppKey[dict[str, tuple[bytes, str]]] = web.AppKey("console_static", dict)


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The vendored files, read once: name -> (body, content type)."""
    return {
        path.name: (path.read_bytes(), STATIC_TYPES[path.suffix])
        for path in (HERE / "static").iterdir()
        if path.suffix in STATIC_TYPES
    }


@public
async def _static(request: web.Request) -> web.Response:
    found = request.app[STATIC_KEY].get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    body, content_type = found
    return web.Response(body=body, content_type=content_type)
