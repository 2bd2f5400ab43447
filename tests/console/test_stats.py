"""Hourly numbers: what a decision counts, percentiles from the histogram, the SVG charts."""

from __future__ import annotations

import pytest

from console import charts
from console.stats import LATENCY_BOUNDS_S, Bucket, HourlyStats, percentile
from hub.conversation import Conversation
from hub.envelope import InboundMessage
from hub.stages import Decision, HandoffRequest, Turn
from hub.store import MemoryStore
from tests.harness import make_config


def turn(channel: str = "webchat", at: float = 1000.0) -> Turn:
    message = InboundMessage(channel=channel, conversation_id="c", user_id="u", message_id="m",
                             text="hi", timestamp=at)
    return Turn(message=message, conversation=Conversation.start(message), config=make_config())


async def test_decisions_fill_the_hour_and_rates_follow() -> None:
    now = [1_000_000.0]
    stats = HourlyStats(MemoryStore(), clock=lambda: now[0])
    await stats.on_decision(turn(at=now[0] - 0.3), Decision("kb", "FAQ x"))
    await stats.on_decision(turn("telegram", now[0] - 0.1), Decision("rules", "hello"))
    await stats.on_decision(turn(at=now[0] - 2.5), Decision(
        "llm", "answered", details={"tier": "small", "cost_usd": 0.002}))
    await stats.on_decision(turn(at=now[0]), Decision(
        "handoff", "asked", handoff=HandoffRequest("customer asked"), helped=False))
    await stats.on_decision(turn(at=now[0]), Decision("none", "no stage answered", helped=False))
    (bucket,) = await stats.by_hour(1)
    assert bucket.prefixed("msg:") == {"webchat": 4.0, "telegram": 1.0}
    assert bucket.decisions == 5
    assert bucket.rate("deflected") == 3 / 5
    assert bucket.rate("handoff") == 1 / 5
    assert bucket.prefixed("cost:") == {"small": 0.002}
    assert 0 < bucket.latency(0.5) <= 0.5 and 2.0 <= bucket.latency(0.95) <= 3.0
    days = await stats.by_day(2)
    assert days[-1].decisions == 5 and days[0].decisions == 0


def test_percentile_interpolates_within_a_bucket() -> None:
    counts = [0.0] * (len(LATENCY_BOUNDS_S) + 1)
    counts[1] = 100  # all between 0.05 and 0.1 s
    assert percentile(counts, 0.5) == pytest.approx(0.075)
    assert percentile([0.0] * len(counts), 0.5) is None
    counts[-1] = 1000  # past the last bound
    assert percentile(counts, 0.99) == LATENCY_BOUNDS_S[-1]


def test_csat_and_empty_rates() -> None:
    assert Bucket("h", {}).rate("handoff") is None
    assert Bucket("h", {"csat_sum": 9.0, "csat_n": 2.0}).csat == 4.5


def test_charts_escape_their_labels() -> None:
    svg = charts.bars(["<b>"], {"<script>": [1.0]})
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    line = charts.lines(["a", "b", "c"], {"p50": [0.1, None, 0.3]})
    assert line.count("<path") == 1 and line.count("<circle") == 2


async def test_ratings_fill_thumbs_and_csat() -> None:
    from feedback.rating import Rating

    stats = HourlyStats(MemoryStore(), clock=lambda: 1_000_000.0)
    for kind, value in (("thumbs", 1), ("thumbs", -1), ("thumbs", -1), ("csat", 5), ("csat", 2)):
        await stats.on_rating(Rating("c1", "webchat:s", 1, kind, value))
    (bucket,) = await stats.by_hour(1)
    assert bucket.fields["up"] == 1 and bucket.fields["down"] == 2
    assert bucket.csat == 3.5
