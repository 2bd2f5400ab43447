"""Try it: ``hub ask`` in the browser. One message through the live stages, as a dry run.

Nothing is sent, saved or spent on a customer's behalf: the turn is marked
``dry_run`` (the stages skip their side effects, as for ``hub ask``) and its
conversation is a throwaway one that is never stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.envelope import InboundMessage, new_id

if TYPE_CHECKING:
    from console.app import Console

__all__ = ["dry_run", "routes"]

MAX_TEXT = 4000


async def dry_run(console: Console, text: str, channel: str) -> dict[str, Any]:
    """The decision for ``text`` as a customer on ``channel`` would get it now."""
    message = InboundMessage(
        channel=channel, conversation_id=f"console-try-{new_id()}", user_id="console",
        message_id=new_id(), text=text,
    )
    return await console.hub.dry_run(message)


def routes(console: Console, router: web.UrlDispatcher) -> None:
    def channels() -> list[str]:
        return sorted(console.hub.adapters) or ["webchat"]

    async def page(request: web.Request) -> web.Response:
        return console.render(request, "try.html", text="", result=None, channel="webchat",
                              channels=channels())

    async def ask(request: web.Request) -> web.Response:
        form = await request.post()
        text = str(form.get("text", "")).strip()[:MAX_TEXT]
        channel = str(form.get("channel", "webchat"))
        channel = channel if channel in channels() else "webchat"
        result = await dry_run(console, text, channel) if text else None
        return console.render(request, "try.html", text=text, result=result, channel=channel,
                              channels=channels())

    router.add_get("/try", page)
    router.add_post("/try", ask)
