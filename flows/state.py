"""Where a conversation is in a flow, kept in the store between messages.

:class:`FlowState` is frozen and JSON-round-trips, so it survives a restart,
and with a Redis store any hub process can continue the flow. Its key is
built in :mod:`hub.store.keys`. A state idle for longer than
``[flows] expire_after_s`` is abandoned (the store's TTL drops it too).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from hub.store import Keys, Store

__all__ = ["FlowState", "FlowStates"]

logger = logging.getLogger(__name__)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FlowState:
    """One conversation's place in one flow.

    ``step`` is the step waiting for the customer's answer; ``slots`` what was
    collected; ``result`` the last action's JSON result; ``retries`` the bad
    answers given to the current step; ``turn`` counts the messages the flow
    has handled (part of each idempotency key).
    """

    flow: str
    step: str
    slots: Mapping[str, Any] = field(default_factory=dict)
    result: Mapping[str, Any] = field(default_factory=dict)
    retries: int = 0
    turn: int = 0
    started_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        object.__setattr__(self, "slots", MappingProxyType(dict(self.slots)))
        object.__setattr__(self, "result", MappingProxyType(dict(self.result)))

    def evolve(self, **changes: Any) -> FlowState:
        return replace(self, updated_at=time.time(), **changes)

    def with_slot(self, name: str, value: Any) -> FlowState:
        return self.evolve(slots={**self.slots, name: value}, retries=0)

    def expired(self, after_s: float, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) - self.updated_at > after_s

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "step": self.step,
            "slots": dict(self.slots),
            "result": _plain(self.result),
            "retries": self.retries,
            "turn": self.turn,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowState:
        return cls(
            flow=str(data["flow"]),
            step=str(data["step"]),
            slots=dict(data.get("slots") or {}),
            result=dict(data.get("result") or {}),
            retries=int(data.get("retries", 0)),
            turn=int(data.get("turn", 0)),
            started_at=float(data.get("started_at", time.time())),
            updated_at=float(data.get("updated_at", time.time())),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class FlowStates:
    """Load, save and forget flow states in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def load(self, conversation_id: str) -> FlowState | None:
        data = await self.store.get(Keys.flow_state(conversation_id))
        if not data:
            return None
        try:
            return FlowState.from_json(data)
        except (KeyError, TypeError, ValueError):
            logger.warning("unreadable flow state for %s dropped", conversation_id)
            await self.forget(conversation_id)
            return None

    async def save(self, conversation_id: str, state: FlowState, ttl_s: float) -> None:
        await self.store.set(Keys.flow_state(conversation_id), state.to_json(), ttl_s)

    async def forget(self, conversation_id: str) -> None:
        await self.store.delete(Keys.flow_state(conversation_id))
