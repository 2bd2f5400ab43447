"""Errors of flows and actions.

HubError (hub/errors.py)
 └── FlowError            a flow could not go on
      ├── ActionFailed     an action timed out, answered 5xx/4xx or bad JSON, or its
      │                    circuit breaker is open (``outcome`` says which)
      └── NotFound         raised by a plugin action: the thing asked for does not exist
                           (an HTTP action's 404); the flow asks again
"""

from __future__ import annotations

from hub.errors import HubError

__all__ = ["ActionFailed", "FlowError", "NotFound"]


class FlowError(HubError):
    """Base of the errors raised by flows."""


class ActionFailed(FlowError):
    """An action gave no usable answer; ``outcome`` is the metrics label."""

    def __init__(self, action: str, outcome: str, detail: str = "") -> None:
        self.action = action
        self.outcome = outcome
        super().__init__(f"action {action!r}: {outcome}" + (f" ({detail})" if detail else ""))


class NotFound(FlowError):
    """What the customer asked about does not exist (an order number, ...)."""
