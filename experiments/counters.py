"""Per-variant counters in the store: what each experiment's report is computed from.

All are float counters in the key-value space
(``Keys.experiment_counter(experiment, variant, counter)``):

- ``conversations``: conversations that started in the variant;
- ``deflected``: conversations the bot helped in and that were not handed off
  (counted at the first helped answer, taken back if a hand-off follows);
- ``handed_off``: conversations handed to a person;
- ``thumbs_up`` / ``thumbs_down``; ``csat_count``, ``csat_sum``, ``csat_satisfied``
  (4 or 5);
- ``cost``: US dollars of LLM calls.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.store import Keys, Store

__all__ = ["COUNTERS", "add", "read"]

COUNTERS = (
    "conversations", "deflected", "handed_off", "thumbs_up", "thumbs_down",
    "csat_count", "csat_sum", "csat_satisfied", "cost",
)


async def add(store: Store, variants: Mapping[str, str], counter: str, amount: float = 1.0) -> None:
    """Add ``amount`` to ``counter`` of each of the customer's variants."""
    for experiment, variant in variants.items():
        await store.incr(Keys.experiment_counter(experiment, variant, counter), amount)


async def read(store: Store, experiment: str, variant: str) -> dict[str, float]:
    """Every counter of one variant (0 for those never counted)."""
    values = {}
    for counter in COUNTERS:
        value = await store.get(Keys.experiment_counter(experiment, variant, counter))
        values[counter] = float(value or 0.0)
    return values
