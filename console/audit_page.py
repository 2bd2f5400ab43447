"""The audit log: every admin action (sign-ins, FAQ edits, forgotten customers), newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from console.app import Console

__all__ = ["routes"]


def routes(console: Console, router: web.UrlDispatcher) -> None:
    async def audit(request: web.Request) -> web.Response:
        entries = await console.hub.store.audit_log(limit=200)
        return console.render(request, "audit.html", entries=entries)

    router.add_get("/audit", audit)
