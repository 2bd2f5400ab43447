"""Hourly numbers for the console: counted from every decision (and rating) into the store.

One bucket per UTC hour (``Store.add_to_hour``), fields:

- ``msg:<channel>``: customer messages decided; ``stage:<stage>``: decisions per stage;
- ``deflected``: answered by the bot with no person; ``handoff``: sent to a person;
  ``unanswered``: no stage answered;
- ``lat:<i>``: reply latency histogram (bucket ``i`` of :data:`LATENCY_BOUNDS_S`);
- ``cost:<tier>``: LLM spend in US dollars;
- ``up``/``down``: thumbs; ``csat_sum``/``csat_n``: 1-5 satisfaction answers.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from feedback.rating import Rating
from hub.stages import Decision, Turn
from hub.store import Store

__all__ = ["LATENCY_BOUNDS_S", "Bucket", "HourlyStats", "hour_of", "percentile"]

LATENCY_BOUNDS_S = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0)
STATS_TTL_S = 92 * 86_400  # a quarter of hourly buckets
NOT_HELPED = frozenset({"none", "error", "handoff"})


def hour_of(ts: float) -> str:
    return time.strftime("%Y%m%d%H", time.gmtime(ts))


def no_answer(stage: str | None, reason: str | None) -> bool:
    """No stage had an answer: the chain's fallback, or the hand-off stage taking over
    because nothing earlier could answer (with or without agents to take it)."""
    return stage == "none" or (stage == "handoff" and "could answer" in (reason or ""))


def decision_counts(turn: Turn, decision: Decision, now: float) -> dict[str, float]:
    """What one decision adds to its hour's bucket."""
    counts = {f"msg:{turn.message.channel}": 1.0, f"stage:{decision.stage}": 1.0}
    if decision.handoff is not None or decision.stage == "handoff":
        counts["handoff"] = 1.0
    elif decision.helped and decision.stage not in NOT_HELPED:
        counts["deflected"] = 1.0
    if no_answer(decision.stage, decision.reason):
        counts["unanswered"] = 1.0
    latency = max(0.0, now - turn.message.timestamp)
    counts[f"lat:{bisect.bisect_left(LATENCY_BOUNDS_S, latency)}"] = 1.0
    cost = decision.details.get("cost_usd")
    tier = decision.details.get("tier")
    if isinstance(cost, int | float) and cost > 0 and tier:
        counts[f"cost:{tier}"] = float(cost)
    return counts


def rating_counts(kind: str, value: int) -> dict[str, float]:
    """What one customer rating adds (thumbs: +1 / -1; csat: 1-5)."""
    if kind == "csat":
        return {"csat_sum": float(value), "csat_n": 1.0}
    return {"up" if value > 0 else "down": 1.0}


class HourlyStats:
    """The recorder (a decision and a rating listener) and the reader of the buckets."""

    def __init__(self, store: Store, clock: Any = time.time) -> None:
        self.store = store
        self.clock = clock

    async def on_decision(self, turn: Turn, decision: Decision) -> None:
        if turn.dry_run:
            return
        now = self.clock()
        await self.store.add_to_hour(hour_of(now), decision_counts(turn, decision, now), STATS_TTL_S)

    async def on_rating(self, rating: Rating) -> None:
        now = self.clock()
        await self.store.add_to_hour(hour_of(now), rating_counts(rating.kind, rating.value), STATS_TTL_S)

    async def by_hour(self, hours: int) -> list[Bucket]:
        """The last ``hours`` hours, oldest first (this hour last)."""
        now = self.clock()
        starts = [now - 3600 * back for back in range(hours - 1, -1, -1)]
        names = [hour_of(ts) for ts in starts]
        values = await self.store.hours(names)
        return [Bucket(time.strftime("%H:00", time.gmtime(ts)), v) for ts, v in zip(starts, values, strict=True)]

    async def by_day(self, days: int) -> list[Bucket]:
        """The last ``days`` UTC days, oldest first, each the sum of its 24 hours."""
        today = int(self.clock() // 86_400) * 86_400
        out = []
        starts = [today - 86_400 * back for back in range(days - 1, -1, -1)]
        names = [hour_of(day + 3600 * h) for day in starts for h in range(24)]
        values = await self.store.hours(names)
        for index, day in enumerate(starts):
            merged: dict[str, float] = {}
            for bucket in values[index * 24:(index + 1) * 24]:
                for name, amount in bucket.items():
                    merged[name] = merged.get(name, 0.0) + amount
            out.append(Bucket(time.strftime("%d %b", time.gmtime(day)), merged))
        return out


@dataclass(frozen=True, slots=True)
class Bucket:
    """One hour's (or day's) counters, with the rates the console draws."""

    label: str
    fields: Mapping[str, float]

    def prefixed(self, prefix: str) -> dict[str, float]:
        return {k[len(prefix):]: v for k, v in self.fields.items() if k.startswith(prefix)}

    @property
    def decisions(self) -> float:
        return sum(self.prefixed("stage:").values())

    def rate(self, name: str) -> float | None:
        total = self.decisions
        return self.fields.get(name, 0.0) / total if total else None

    @property
    def csat(self) -> float | None:
        n = self.fields.get("csat_n", 0.0)
        return self.fields.get("csat_sum", 0.0) / n if n else None

    def latency(self, p: float) -> float | None:
        counts = [0.0] * (len(LATENCY_BOUNDS_S) + 1)
        for index, count in self.prefixed("lat:").items():
            counts[min(int(index), len(LATENCY_BOUNDS_S))] += count
        return percentile(counts, p)


def percentile(counts: Sequence[float], p: float) -> float | None:
    """The ``p`` quantile (0-1) of a :data:`LATENCY_BOUNDS_S` histogram, interpolated
    within its bucket; None when it is empty. Past the last bound: the last bound."""
    total = sum(counts)
    if not total:
        return None
    rank, seen = p * total, 0.0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index >= len(LATENCY_BOUNDS_S):
                return LATENCY_BOUNDS_S[-1]
            low = LATENCY_BOUNDS_S[index - 1] if index else 0.0
            return low + (LATENCY_BOUNDS_S[index] - low) * (rank - seen) / count
        seen += count
    return LATENCY_BOUNDS_S[-1]
