"""An ingress log that refuses work while ``down``, as one on an unreachable Redis does."""

from __future__ import annotations

from hub.errors import StoreUnavailable
from hub.ingress import MemoryLog, Work
from hub.store.steps import Step

__all__ = ["FlakyLog"]


class FlakyLog(MemoryLog):
    down = False

    async def enqueue(self, work: Work, dedupe_ttl_s: float, guard: Step | None = None) -> bool:
        if self.down:
            raise StoreUnavailable("the ingress is unreachable (test)")
        return await super().enqueue(work, dedupe_ttl_s, guard)
