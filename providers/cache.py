"""A short-lived answer cache in the store (not litellm's, which needs its proxy extras).

Only questions with no personal data are cached. The key hashes the tier, the
system prompt, the normalised question, the earlier turns sent along and the
grounding (ids and answers), so a changed FAQ entry or context misses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hub.store import Keys, Store

__all__ = ["AnswerCache", "CachedAnswer", "cache_key"]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    text: str
    tier: str
    model: str
    sources: tuple[str, ...] = ()


def cache_key(tier: str, messages: Sequence[dict[str, Any]]) -> str:
    """The store key (``Keys.llm_answer``) of the sha256 of the tier (name and models)
    and the scrubbed messages."""
    normal = [
        {"role": m["role"], "content": " ".join(str(m["content"]).lower().split())}
        for m in messages
    ]
    blob = json.dumps([tier, normal], sort_keys=True, ensure_ascii=False)
    return Keys.llm_answer(hashlib.sha256(blob.encode()).hexdigest())


class AnswerCache:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, key: str) -> CachedAnswer | None:
        data = await self.store.get(key)
        if not isinstance(data, dict):
            return None
        return CachedAnswer(
            text=str(data["text"]),
            tier=str(data["tier"]),
            model=str(data["model"]),
            sources=tuple(data.get("sources", ())),
        )

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> None:
        if ttl_s > 0:
            value = asdict(answer)
            value["sources"] = list(answer.sources)
            await self.store.set(key, value, ttl_s)
