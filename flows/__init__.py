"""Flows: multi-turn conversations declared in config.toml, and actions on the shop's
own systems (HTTP or Python plugins) that flows and the LLM's tools call.

See docs/flows.md for the format, the request signing scheme and a plugin example.
``hub.config`` embeds :mod:`flows.config`, so this package imports its parts
lazily: importing ``flows`` must not import ``hub.config`` back.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ActionFailed",
    "ActionResult",
    "Actions",
    "FlowError",
    "FlowStage",
    "FlowStarter",
    "FlowState",
    "NotFound",
    "flow_handoff_middleware",
    "verify",
]

_HOME = {
    "ActionFailed": "flows.errors",
    "FlowError": "flows.errors",
    "NotFound": "flows.errors",
    "ActionResult": "flows.actions",
    "Actions": "flows.actions",
    "FlowStage": "flows.stage",
    "FlowStarter": "flows.stage",
    "flow_handoff_middleware": "flows.stage",
    "FlowState": "flows.state",
    "verify": "flows.signing",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'flows' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
