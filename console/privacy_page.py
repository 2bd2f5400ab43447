"""Privacy: forget a customer (every conversation, transcript, rating and escalation).

The work is :func:`privacy.forget_customer`'s; this page is its admin button, and
puts the action in the audit log with who pressed it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from aiohttp import web

from console.security import account_of, writes

if TYPE_CHECKING:
    from console.app import Console

__all__ = ["routes"]

MAX_FIELD = 200


def routes(console: Console, router: web.UrlDispatcher) -> None:
    def channels() -> list[str]:
        return sorted(console.hub.adapters) or ["webchat"]

    async def page(request: web.Request) -> web.Response:
        return console.render(request, "privacy.html", report=None, channels=channels(),
                              can_write=account_of(request).can_write)

    @writes
    async def forget(request: web.Request) -> web.Response:
        from privacy import forget_customer

        form = await request.post()
        channel = str(form.get("channel", "")).strip()[:MAX_FIELD]
        user = str(form.get("user", "")).strip()[:MAX_FIELD]
        if not channel or not user:
            return console.render(request, "privacy.html", status=400, report=None,
                                  channels=channels(), can_write=True,
                                  error="give the channel and the customer's user id")
        actor = account_of(request).name
        report = await forget_customer(console.hub.store, channel, user, actor=actor)  # audits it
        return console.render(request, "privacy.html", report=dataclasses.asdict(report),
                              channels=channels(), can_write=True)

    router.add_get("/privacy", page)
    router.add_post("/privacy/forget", forget)
