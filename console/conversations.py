"""Conversations: the live list (filtered) and one conversation's transcript with its trace."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from console.security import account_of

if TYPE_CHECKING:
    from console.app import Console

__all__ = ["Filters", "routes"]

STATUSES = (("bot", "with the bot"), ("waiting", "waiting for an agent"),
            ("agent", "with an agent"), ("resolved", "resolved"))
RATINGS = (("-1", "thumbs down"), ("1", "thumbs up"))  # the latest thumbs of a conversation
PAGE = 50


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's filters, from the query string (unknown values are ignored)."""

    channel: str | None = None
    status: str | None = None
    tag: str | None = None
    rating: str | None = None
    since: str | None = None  # YYYY-MM-DD (UTC), inclusive
    until: str | None = None  # YYYY-MM-DD (UTC), inclusive

    @classmethod
    def of(cls, query: Any) -> Filters:
        def pick(key: str, allowed: tuple[str, ...] | None = None) -> str | None:
            value = str(query.get(key, "")).strip()[:100]
            if not value or (allowed is not None and value not in allowed):
                return None
            return value

        return cls(
            channel=pick("channel"),
            status=pick("status", tuple(s for s, _ in STATUSES)),
            tag=pick("tag"),
            rating=pick("rating", tuple(r for r, _ in RATINGS)),
            since=_date(pick("since")),
            until=_date(pick("until")),
        )

    def store_args(self) -> dict[str, Any]:
        until = _epoch(self.until) + 86_400 if self.until else None
        return {
            "channel": self.channel, "status": self.status, "tag": self.tag,
            "rating": int(self.rating) if self.rating else None, "since": _epoch(self.since) if self.since else None,
            "until": until,
        }

    def query(self) -> dict[str, str]:
        return {k: v for k in self.__slots__ if (v := getattr(self, k))}


def _date(text: str | None) -> str | None:
    try:
        return time.strftime("%Y-%m-%d", time.strptime(text, "%Y-%m-%d")) if text else None
    except ValueError:
        return None


def _epoch(day: str) -> float:
    return float(calendar.timegm(time.strptime(day, "%Y-%m-%d")))


def routes(console: Console, router: web.UrlDispatcher) -> None:
    async def listing(request: web.Request) -> web.Response:
        filters = Filters.of(request.query)
        before = _before(request.query)
        rows = await _rows(console, filters, before)
        older = {**filters.query(), "before": repr(rows[-1].last_at)} if len(rows) == PAGE else None
        return console.render(
            request, "conversations.html", rows=rows, filters=filters, statuses=STATUSES,
            ratings=RATINGS, channels=sorted(console.hub.adapters) or ["webchat"],
            older=older, paged=before is not None,
        )

    async def rows_fragment(request: web.Request) -> web.Response:
        """The list's rows alone: what the page's script polls for live updates."""
        rows = await _rows(console, Filters.of(request.query))
        return console.render(request, "_conversation_rows.html", rows=rows)

    async def transcript(request: web.Request) -> web.Response:
        conversation_id = request.match_info["id"]
        store = console.hub.store
        summary = await store.conversation_summary(conversation_id)
        if summary is None:
            raise web.HTTPNotFound(text="no such conversation (forgotten, or expired)")
        entries = await store.transcript(conversation_id)
        ratings = await store.ratings(conversation_id)
        return console.render(
            request, "transcript.html", summary=summary, entries=entries, ratings=ratings,
            can_write=account_of(request).can_write,
        )

    router.add_get("/conversations", listing)
    router.add_get("/conversations/rows", rows_fragment)
    router.add_get("/conversations/{id}", transcript)


async def _rows(console: Console, filters: Filters, before: float | None = None) -> list[Any]:
    return await console.hub.store.list_conversations(**filters.store_args(), limit=PAGE, before=before)


def _before(query: Any) -> float | None:
    try:
        return float(query["before"]) if "before" in query else None
    except ValueError:
        return None
