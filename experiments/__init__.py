"""Experiments: A/B tests and canaries of whitelisted config keys, per customer.

- ``[[experiments]]`` in config.toml (``hub.config.ExperimentConfig``);
- :func:`assign`: sticky variants by hashing the customer id with the name;
- :class:`Experiments`: the per-turn config and the per-variant counters;
- :func:`report`: per-variant rates, Wilson intervals and a verdict.
"""

from experiments.assign import assign, point, variants_for
from experiments.report import ExperimentReport, Rate, VariantReport, report, wilson
from experiments.runner import Experiments

__all__ = [
    "ExperimentReport",
    "Experiments",
    "Rate",
    "VariantReport",
    "assign",
    "point",
    "report",
    "variants_for",
    "wilson",
]
