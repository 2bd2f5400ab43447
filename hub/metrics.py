"""Prometheus metrics, one registry per hub so tests can run several hubs."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The hub's counters and histograms (exposed at ``GET /metrics``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages_in = Counter(
            "switchboard_messages_in", "Customer messages accepted", ["channel"], registry=r
        )
        self.duplicates = Counter(
            "switchboard_duplicates", "Duplicate messages dropped", ["channel"], registry=r
        )
        self.messages_out = Counter(
            "switchboard_messages_out", "Messages sent to customers", ["channel", "sender"],
            registry=r,
        )
        self.decisions = Counter(
            "switchboard_decisions", "Decisions made, by stage", ["stage"], registry=r
        )
        self.latency = Histogram(
            "switchboard_message_latency_seconds",
            "Time from accepting a message to sending its reply",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "switchboard_errors", "Errors, by component", ["component"], registry=r
        )
        self.llm_cost = Counter(
            "switchboard_llm_cost_usd", "LLM spend in US dollars", ["tier", "model"], registry=r
        )
        self.llm_tokens = Counter(
            "switchboard_llm_tokens", "LLM tokens", ["tier", "model", "kind"], registry=r
        )

        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once (labels() is slow on the hot path)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)
