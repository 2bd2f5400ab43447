"""The tiers' :class:`~providers.router.TierRouter`, always built off the event loop.

Importing litellm takes seconds, resolving the deployments and loading what
its first request needs (provider modules, the tokenizer) most of another. None of
that may run on the event loop, where it would stall every conversation, rule
answers included. :class:`RouterWarmup` builds the router for an ``[llm]``
section in a worker thread, at startup and again when a reload changes the
section, and swaps the new one in only when it is complete. Until the first
one is ready ``/healthz`` says ``starting``; an LLM question that arrives
meanwhile waits for it (in its own task: nothing else waits).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from hub.config import LLMConfig
from providers.router import TierRouter

__all__ = ["RouterWarmup", "Timings", "build_router"]

logger = logging.getLogger(__name__)

_WARM_UP_MESSAGES = [{"role": "user", "content": "warm up"}]


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds each step of a build took, for the log and /healthz."""

    litellm_import_s: float
    router_s: float
    warm_up_s: float

    def as_dict(self) -> dict[str, float]:
        return {
            "litellm_import_s": round(self.litellm_import_s, 3),
            "router_s": round(self.router_s, 3),
            "warm_up_s": round(self.warm_up_s, 3),
        }


def build_router(config: LLMConfig) -> tuple[TierRouter, Timings]:
    """Import litellm, build the router and run its request path once (blocking: a thread)."""
    started = time.perf_counter()
    import litellm  # noqa: F401  (the import is the point: seconds, once)

    imported = time.perf_counter()
    router = TierRouter(config)
    built = time.perf_counter()
    router.warm_up()
    warmed = time.perf_counter()
    return router, Timings(imported - started, built - imported, warmed - built)


def _same_router(built: LLMConfig, wanted: LLMConfig) -> bool:
    """Can the router built for ``built`` serve ``wanted``? The system prompt is the
    stage's, not the router's: an experiment that varies only the prompt
    (experiments/) shares one router."""
    return built == wanted or built.model_copy(update={"system_prompt": ""}) == wanted.model_copy(
        update={"system_prompt": ""}
    )


@dataclass
class RouterWarmup:
    """The current router, and the one being built for a newer ``[llm]`` section."""

    current: TierRouter | None = None
    timings: Timings | None = None
    failure: str | None = None
    owns_session: bool = False  # True once entered: the pre-built session is closed on exit
    _retired: list[TierRouter] = field(default_factory=list, repr=False)
    _building: tuple[LLMConfig, asyncio.Task[TierRouter]] | None = field(default=None, repr=False)

    @property
    def ready(self) -> bool:
        return self.current is not None

    def start(self, config: LLMConfig) -> None:
        """Begin building the router for ``config`` (no-op if it is built or being built)."""
        if not config.enabled or not config.tiers:
            return
        self._task_for(config)

    async def get(self, config: LLMConfig) -> TierRouter:
        """The router for ``config``, waiting (off the loop) for it to be built if need be."""
        current = self.current
        if current is not None and _same_router(current.config, config):
            return current
        return await asyncio.shield(self._task_for(config))

    async def close(self) -> None:
        if self._building is not None:
            self._building[1].cancel()
        for router in [*self._retired, self.current]:
            if router is not None:
                await router.close()

    def health(self) -> dict[str, Any]:
        if self.failure is not None and self.current is None:
            return {"status": "down", "error": self.failure}
        if self.current is None:
            return {"status": "starting", "tiers": "being built (litellm loads in a thread)"}
        health: dict[str, Any] = {
            "status": "ok",
            "tiers": self.current.names,
            "calls": self.current.paths(),
            "left_out": self.current.notes,
        }
        if self.timings is not None:
            health["startup"] = self.timings.as_dict()
        return health

    # -- building ------------------------------------------------------------------
    def _task_for(self, config: LLMConfig) -> asyncio.Task[TierRouter]:
        if self._building is not None and self._building[0] == config:
            return self._building[1]
        task = asyncio.get_running_loop().create_task(self._build(config))
        self._building = (config, task)
        return task

    async def _build(self, config: LLMConfig) -> TierRouter:
        try:
            router, timings = await asyncio.to_thread(build_router, config)
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            logger.exception("llm: the tiers' router could not be built")
            raise
        finally:
            if self._building is not None and self._building[0] == config:
                self._building = None
        if self.owns_session:
            router.open_session()
        old, self.current, self.timings, self.failure = self.current, router, timings, None
        logger.info(
            "llm: litellm imported in %.2f s, router for tiers %s built in %.2f s, "
            "request path and tokenizer warmed up in %.2f s",
            timings.litellm_import_s, ", ".join(router.names) or "(none usable)",
            timings.router_s, timings.warm_up_s,
        )
        if old is not None:
            self._retired.append(old)  # calls in flight finish on it; closed at shutdown
        return router
