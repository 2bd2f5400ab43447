"""Which tiers are failing: ``/healthz`` says "degraded" for a tier that keeps failing.

A tier is degraded once it has failed or timed out ``[llm]
degraded_after_failures`` times within ``degraded_window_s`` seconds; one
answer from it (good or rejected by the self-check: the provider answered)
clears its record. Degraded is not down: the rules, the FAQ and the other
tiers still answer, so the hub keeps HTTP 200 (see hub/service.py).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TierHealth"]


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    last_error: str = ""


@dataclass
class TierHealth:
    """Failures per tier name, in a sliding window; ``clock`` is monotonic seconds."""

    clock: Callable[[], float] = time.monotonic
    _records: dict[str, _Record] = field(default_factory=dict)

    def failed(self, tier: str, kind: str) -> None:
        record = self._records.setdefault(tier, _Record())
        record.failures.append(self.clock())
        record.last_error = kind

    def answered(self, tier: str) -> None:
        self._records.pop(tier, None)

    def degraded(self, after: int, window_s: float) -> dict[str, Any]:
        """The degraded tiers: name -> failures in the window and the last error's kind."""
        since = self.clock() - window_s
        found: dict[str, Any] = {}
        for name, record in list(self._records.items()):
            while record.failures and record.failures[0] < since:
                record.failures.popleft()
            if not record.failures:
                del self._records[name]
            elif len(record.failures) >= after:
                found[name] = {
                    "failures": len(record.failures), "window_s": window_s,
                    "last_error": record.last_error,
                }
        return found
