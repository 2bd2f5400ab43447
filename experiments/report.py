"""Per-variant numbers, 95% Wilson intervals and a plain verdict, for the console.

Rates are shares of conversations (deflection, hand-off), of thumbs (thumbs
down) or of CSAT answers (CSAT: the share of 4s and 5s; the mean is given too).
The verdict compares each variant with the first one (the control) on the
experiment's ``metric``: "B better than A on deflection" only when the two 95%
intervals do not overlap (conservative), else "not yet significant". Cost has
no interval: it is called only once every variant has ``MIN_FOR_COST``
conversations and the cost per conversation differs by more than 20%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from experiments import counters
from hub.config import Config, ExperimentConfig
from hub.store import Store

__all__ = ["ExperimentReport", "Rate", "VariantReport", "report", "wilson"]

Z95 = 1.959963984540054
MIN_FOR_COST = 100
HIGHER_IS_BETTER = {"deflection": True, "csat": True, "thumbs_down": False, "handoff": False,
                    "cost": False}


def wilson(successes: float, trials: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (0, 1) with no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, successes / trials))
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Rate:
    """A proportion with its 95% Wilson interval (``value`` is None with no trials)."""

    successes: float
    trials: float
    value: float | None
    low: float
    high: float

    @classmethod
    def of(cls, successes: float, trials: float) -> Rate:
        low, high = wilson(successes, trials)
        return cls(successes, trials, successes / trials if trials > 0 else None, low, high)


@dataclass(frozen=True, slots=True)
class VariantReport:
    name: str
    weight: float
    share: float  # of the configured weight
    conversations: int
    deflection: Rate
    handoff: Rate
    thumbs_down: Rate
    csat: Rate  # share of 4-5 answers
    csat_mean: float | None
    cost: float  # US dollars
    cost_per_conversation: float | None

    def rate(self, metric: str) -> Rate | None:
        return None if metric == "cost" else getattr(self, metric)


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    name: str
    metric: str
    enabled: bool
    variants: tuple[VariantReport, ...]
    verdict: str


async def report(store: Store, config: Config) -> list[ExperimentReport]:
    """Every configured experiment, from the store's counters."""
    return [await _experiment(store, experiment) for experiment in config.experiments]


async def _experiment(store: Store, experiment: ExperimentConfig) -> ExperimentReport:
    total = sum(v.weight for v in experiment.variants)
    variants = []
    for variant in experiment.variants:
        numbers = await counters.read(store, experiment.name, variant.name)
        variants.append(_variant(variant.name, variant.weight, variant.weight / total, numbers))
    return ExperimentReport(
        experiment.name, experiment.metric, experiment.enabled, tuple(variants),
        verdict(experiment.metric, variants),
    )


def _variant(name: str, weight: float, share: float, n: dict[str, float]) -> VariantReport:
    conversations = n["conversations"]
    thumbs = n["thumbs_up"] + n["thumbs_down"]
    return VariantReport(
        name=name,
        weight=weight,
        share=share,
        conversations=int(conversations),
        deflection=Rate.of(max(0.0, n["deflected"]), conversations),
        handoff=Rate.of(n["handed_off"], conversations),
        thumbs_down=Rate.of(n["thumbs_down"], thumbs),
        csat=Rate.of(n["csat_satisfied"], n["csat_count"]),
        csat_mean=n["csat_sum"] / n["csat_count"] if n["csat_count"] else None,
        cost=n["cost"],
        cost_per_conversation=n["cost"] / conversations if conversations else None,
    )


def verdict(metric: str, variants: list[VariantReport]) -> str:
    """Plain words: which variant beats the control on ``metric``, if any does yet."""
    control, others = variants[0], variants[1:]
    found = [v for v in (_compare(metric, v, control) for v in others) if v]
    return "; ".join(found) if found else "not yet significant"


def _compare(metric: str, variant: VariantReport, control: VariantReport) -> str | None:
    words = metric.replace("_", " ")
    if metric == "cost":
        return _compare_cost(variant, control)
    a, b = variant.rate(metric), control.rate(metric)
    if a is None or b is None or a.value is None or b.value is None:
        return None
    if a.low > b.high:
        better = HIGHER_IS_BETTER[metric]
    elif a.high < b.low:
        better = not HIGHER_IS_BETTER[metric]
    else:
        return None
    return f"{variant.name} {'better' if better else 'worse'} than {control.name} on {words}"


def _compare_cost(variant: VariantReport, control: VariantReport) -> str | None:
    a, b = variant.cost_per_conversation, control.cost_per_conversation
    if a is None or b is None or min(variant.conversations, control.conversations) < MIN_FOR_COST:
        return None
    if abs(a - b) <= 0.2 * max(a, b):
        return None
    return f"{variant.name} {'cheaper' if a < b else 'dearer'} than {control.name} per conversation"
