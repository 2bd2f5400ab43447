"""Experiments in the hub: each turn runs with its customer's variant config.

:meth:`Experiments.attach` adds, to a hub:

- a middleware (right inside the errors one) that assigns the customer's
  variants on the conversation's first turn (kept in ``data["variants"]``, one
  write per conversation), swaps in the per-turn effective config
  (:func:`hub.config.apply_overrides`, built once per variant and config) and
  adds ``details["variants"]`` to the decision;
- a decision listener counting deflection, hand-offs and LLM cost per variant;
- a rating listener counting thumbs and CSAT per variant (ratings carry the
  variants, :class:`feedback.Rating`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from experiments import counters
from experiments.assign import variants_for
from feedback.rating import Rating
from hub.config import Config, apply_overrides
from hub.stages import Decision, Turn

if TYPE_CHECKING:
    from hub.hub import Handler, Hub

__all__ = ["Experiments"]

logger = logging.getLogger(__name__)

HELPED_STAGES = frozenset({"rules", "flows", "kb", "llm"})


class Experiments:
    """One per hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._built_for: Config | None = None
        self._configs: dict[tuple[tuple[str, str], ...], Config] = {}

    @classmethod
    def attach(cls, hub: Hub) -> Experiments:
        experiments = cls(hub)
        hub.middleware.insert(1, experiments.middleware)  # inside errors_middleware only
        hub.decision_listeners.append(experiments.on_decision)
        hub.rating_listeners.append(experiments.on_rating)
        return experiments

    # -- the per-turn config ---------------------------------------------------------
    async def middleware(self, handler: Handler, turn: Turn) -> Decision:
        if not turn.config.experiments:
            return await handler(turn)
        variants = await self._variants(turn)
        turn.config = self.effective(turn.config, variants)
        turn.note("experiments: " + ", ".join(f"{e}={v}" for e, v in variants.items()))
        decision = await handler(turn)
        return dataclasses.replace(decision, details={**decision.details, "variants": dict(variants)})

    def effective(self, config: Config, variants: Mapping[str, str]) -> Config:
        """``config`` with the overrides of ``variants`` applied (cached per config)."""
        if config is not self._built_for:
            self._built_for, self._configs = config, {}
        key = tuple(sorted(variants.items()))
        found = self._configs.get(key)
        if found is None:
            overrides: dict[str, Any] = {}
            for experiment in config.experiments:
                chosen = variants.get(experiment.name)
                for variant in experiment.variants:
                    if variant.name == chosen:
                        overrides.update(variant.overrides)
            found = self._configs[key] = apply_overrides(config, overrides) if overrides else config
        return found

    async def _variants(self, turn: Turn) -> dict[str, str]:
        """The conversation's variants; assigned (and counted) the first time."""
        conversation = turn.conversation
        known: dict[str, str] = dict(conversation.data.get("variants") or {})
        wanted = variants_for(turn.config, conversation.channel, conversation.user_id)
        fresh = {e: v for e, v in wanted.items() if e not in known}
        if turn.dry_run:
            return {**wanted, **known}
        if not fresh:
            return known
        known.update(fresh)
        turn.conversation = conversation.evolve(data={**conversation.data, "variants": known})
        await self.hub.store.save_conversation(turn.conversation)
        await counters.add(self.hub.store, fresh, "conversations")
        return known

    # -- counting --------------------------------------------------------------------
    async def on_decision(self, turn: Turn, decision: Decision) -> None:
        variants = turn.conversation.data.get("variants")
        if not variants or turn.dry_run:
            return
        cost = float(decision.details.get("cost_usd") or 0.0)
        if cost > 0:
            await counters.add(self.hub.store, variants, "cost", cost)
        flags = turn.conversation.data.get("experiment_flags") or {}
        if decision.handoff is not None and not flags.get("handed_off"):
            await counters.add(self.hub.store, variants, "handed_off")
            if flags.get("deflected"):
                await counters.add(self.hub.store, variants, "deflected", -1.0)
            await self._flag(turn, handed_off=True)
        elif self._deflects(turn, decision) and not flags:
            await counters.add(self.hub.store, variants, "deflected")
            await self._flag(turn, deflected=True)

    @staticmethod
    def _deflects(turn: Turn, decision: Decision) -> bool:
        return (
            decision.helped and bool(decision.text) and decision.stage in HELPED_STAGES
            and turn.conversation.status == "bot"
        )

    async def _flag(self, turn: Turn, **flags: bool) -> None:
        """Remember what was counted, on the stored conversation (a listener before
        this one, the hand-off desk, may have saved a newer one)."""
        store = self.hub.store
        stored = await store.get_conversation(turn.conversation.id) or turn.conversation
        known = {**(stored.data.get("experiment_flags") or {}), **flags}
        turn.conversation = stored.evolve(data={**stored.data, "experiment_flags": known})
        await store.save_conversation(turn.conversation)

    async def on_rating(self, rating: Rating) -> None:
        if not rating.variants:
            return
        store, variants = self.hub.store, rating.variants
        if rating.kind == "thumbs":
            await counters.add(store, variants, "thumbs_up" if rating.value > 0 else "thumbs_down")
            return
        await counters.add(store, variants, "csat_count")
        await counters.add(store, variants, "csat_sum", float(rating.value))
        if rating.value >= 4:
            await counters.add(store, variants, "csat_satisfied")
