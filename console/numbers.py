"""Numbers: messages, decisions, deflection, hand-offs, CSAT, latency and LLM spend, by hour or day."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from console import charts
from console.stats import Bucket
from hub.store import Keys

if TYPE_CHECKING:
    from console.app import Console

__all__ = ["routes"]

SPANS = {"hour": 48, "day": 14}  # the last 48 hours, or the last 14 days


def routes(console: Console, router: web.UrlDispatcher) -> None:
    async def numbers(request: web.Request) -> web.Response:
        by = request.query.get("by", "hour")
        by = by if by in SPANS else "hour"
        stats = console.stats
        buckets = await (stats.by_hour(SPANS[by]) if by == "hour" else stats.by_day(SPANS[by]))
        budget = await _budget(console)
        return console.render(request, "numbers.html", by=by, charts=_charts(buckets),
                              totals=_totals(buckets), budget=budget)

    router.add_get("/numbers", numbers)


def _series(buckets: list[Bucket], prefix: str) -> dict[str, list[float]]:
    names = sorted({name for b in buckets for name in b.prefixed(prefix)})
    return {name: [b.prefixed(prefix).get(name, 0.0) for b in buckets] for name in names}


def _charts(buckets: list[Bucket]) -> list[tuple[str, Any]]:
    labels = [b.label for b in buckets]
    return [
        ("Messages per channel", charts.bars(labels, _series(buckets, "msg:"))),
        ("Decisions per stage", charts.bars(labels, _series(buckets, "stage:"))),
        ("Deflection and hand-off rate", charts.lines(labels, {
            "deflected (no person)": [b.rate("deflected") for b in buckets],
            "handed off": [b.rate("handoff") for b in buckets],
        }, top=1.0)),
        ("CSAT (1-5)", charts.lines(labels, {"CSAT": [b.csat for b in buckets]}, top=5.0)),
        ("Reply latency (s)", charts.lines(labels, {
            "p50": [b.latency(0.5) for b in buckets], "p95": [b.latency(0.95) for b in buckets],
        }, unit="s")),
        ("LLM spend per tier (USD)", charts.bars(labels, _series(buckets, "cost:"), unit="$")),
    ]


def _totals(buckets: list[Bucket]) -> dict[str, Any]:
    merged: dict[str, float] = {}
    for bucket in buckets:
        for name, value in bucket.fields.items():
            merged[name] = merged.get(name, 0.0) + value
    whole = Bucket("all", merged)
    thumbs = merged.get("up", 0.0) + merged.get("down", 0.0)
    return {
        "decisions": int(whole.decisions),
        "deflection": whole.rate("deflected"),
        "handoff": whole.rate("handoff"),
        "unanswered": whole.rate("unanswered"),
        "csat": whole.csat,
        "thumbs_down": merged.get("down", 0.0) / thumbs if thumbs else None,
        "p50": whole.latency(0.5),
        "p95": whole.latency(0.95),
        "spend": sum(whole.prefixed("cost:").values()),
    }


async def _budget(console: Console) -> dict[str, Any]:
    """Today's LLM spend against ``[llm] daily_budget_usd`` (the counters providers/ keeps)."""
    from providers.budget import today

    llm = console.hub.config.llm
    day = today()
    spent = float(await console.hub.store.get(Keys.llm_cost_day(day)) or 0.0)
    tiers = {}
    for tier in llm.tiers:
        tiers[tier.name] = float(await console.hub.store.get(Keys.llm_cost_tier(tier.name, day)) or 0.0)
    limit = llm.daily_budget_usd
    return {"spent": spent, "limit": limit, "left": max(0.0, limit - spent) if limit > 0 else None,
            "tiers": tiers, "day": day}
