"""Sticky assignment: a customer's variant comes from a hash, never from a coin.

``sha256("<experiment>:<channel>:<customer id>")`` maps a customer to a point in
[0, 1); the variants' weights cut that interval into shares. The same customer
gets the same variant in every conversation, process and restart, with no
store lookup; a 5% canary is a variant of weight 5 beside one of weight 95.
Changing the weights moves only the customers whose point changes share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from hub.config import Config, ExperimentConfig

__all__ = ["assign", "point", "variants_for"]

_SCALE = float(1 << 64)


def point(experiment: str, channel: str, user: str) -> float:
    """The customer's place in [0, 1) for ``experiment``."""
    digest = hashlib.sha256(f"{experiment}:{channel}:{user}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign(experiment: ExperimentConfig, channel: str, user: str) -> str:
    """The name of the customer's variant."""
    total = sum(v.weight for v in experiment.variants)
    at = point(experiment.name, channel, user) * total
    for variant in experiment.variants:
        at -= variant.weight
        if at < 0:
            return variant.name
    return experiment.variants[-1].name


def variants_for(config: Config, channel: str, user: str) -> Mapping[str, str]:
    """Experiment name -> variant name, for every enabled experiment."""
    return {e.name: assign(e, channel, user) for e in config.experiments if e.enabled}
