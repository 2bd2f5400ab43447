"""Prometheus metrics, one registry per hub so tests can run several hubs."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
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
        self.languages = Counter(
            "switchboard_messages_by_language", "Customer messages, by detected language",
            ["language"], registry=r,
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
        self.llm_spent_today = Gauge(
            "switchboard_llm_spent_today_usd",
            "LLM spend today (UTC) of every process on the store, as this process last read it",
            registry=r,
        )
        self.llm_daily_budget = Gauge(
            "switchboard_llm_daily_budget_usd", "[llm] daily_budget_usd (0: no daily limit)",
            registry=r,
        )
        # process_cpu_seconds_total, process_resident_memory_bytes, open fds (Linux /proc)
        ProcessCollector(registry=r)
        self._ingress(r)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _ingress(self, r: CollectorRegistry) -> None:
        """The durable ingress: lag, redeliveries, dead letters, leases, recovery."""
        self.ingress_lag = Gauge(
            "switchboard_ingress_lag", "Entries of this process's partitions not read yet",
            registry=r,
        )
        self.ingress_pending = Gauge(
            "switchboard_ingress_pending", "Entries read but not acknowledged yet", registry=r
        )
        self.partitions_owned = Gauge(
            "switchboard_partitions_owned", "Ingress partitions this process holds", registry=r
        )
        self.redeliveries = Counter(
            "switchboard_redeliveries", "Entries delivered again after a failure or a crash",
            registry=r,
        )
        self.dead_letters = Counter(
            "switchboard_dead_letters", "Entries given up on (dead-lettered)", registry=r
        )
        self.lease_changes = Counter(
            "switchboard_lease_changes", "Partition leases acquired, released or lost",
            ["change"], registry=r,
        )
        self.recovery = Histogram(
            "switchboard_recovery_seconds",
            "Time for a new owner to take back a partition's pending entries",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.fenced = Counter(
            "switchboard_fenced_replies",
            "Replies not committed because the partition had changed hands",
            registry=r,
        )

    def ingress_events(self) -> IngressEvents:
        return IngressEvents(self)

    def lease_changed(self, change: str, partition: int) -> None:
        self.child(self.lease_changes, change).inc()

    def child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once (labels() is slow on the hot path)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)


class IngressEvents:
    """The consumer's reports, counted (implements ``hub.ingress.ConsumerEvents``)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def redelivered(self, entry: Any) -> None:
        self.metrics.redeliveries.inc()

    def dead_lettered(self, entry: Any) -> None:
        self.metrics.dead_letters.inc()

    def recovered(self, partition: int, entries: int, seconds: float) -> None:
        self.metrics.recovery.observe(seconds)
