"""Experiments: per variant, its share of customers, deflection, hand-offs, CSAT, thumbs-down
and cost per conversation, each rate with its 95% interval, and the verdict in words
(:func:`experiments.report`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from console.app import Console

__all__ = ["routes"]


def routes(console: Console, router: web.UrlDispatcher) -> None:
    async def page(request: web.Request) -> web.Response:
        from experiments import report

        reports = await report(console.hub.store, console.hub.config)
        return console.render(request, "experiments.html", reports=reports)

    router.add_get("/experiments", page)
