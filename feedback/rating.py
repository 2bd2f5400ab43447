"""A customer's rating of one bot answer (thumbs) or of a resolved hand-off (CSAT)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["Rating", "RatingKind"]

RatingKind = Literal["thumbs", "csat"]


@dataclass(frozen=True, slots=True)
class Rating:
    """``value`` is +1 / -1 for ``thumbs``, 1..5 for ``csat``.

    ``decision_index`` is the transcript index (oldest first) of the message that
    carried the prompt: the bot reply rated, or for CSAT the question sent after
    the hand-off was resolved; ``stage`` the stage that made that message, ``variants`` the customer's experiment
    variants. ``comment`` is stored masked (providers/pii.py)."""

    conversation_id: str
    address: str
    decision_index: int
    kind: RatingKind
    value: int
    comment: str = ""
    stage: str = ""
    variants: Mapping[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.kind == "thumbs" and self.value not in (1, -1):
            raise ValueError(f"a thumbs rating is +1 or -1, not {self.value!r}")
        if self.kind == "csat" and not 1 <= self.value <= 5:
            raise ValueError(f"a CSAT rating is 1 to 5, not {self.value!r}")
        if self.kind not in ("thumbs", "csat"):
            raise ValueError(f"rating kind is 'thumbs' or 'csat', not {self.kind!r}")
        object.__setattr__(self, "variants", MappingProxyType(dict(self.variants)))

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["variants"] = dict(self.variants)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rating:
        return cls(**data)
