"""Errors of the LLM router.

HubError (hub.errors)
 └── ProviderError          an LLM provider failed, timed out or declined
      └── TierFailed        one tier could not answer; ``kind`` says how, safely
"""

from __future__ import annotations

from hub.errors import ProviderError

__all__ = ["ProviderError", "TierFailed"]


class TierFailed(ProviderError):
    """A tier failed (``kind``: "timeout", "HTTP 500", ...); never the provider's text."""

    def __init__(self, tier: str, kind: str) -> None:
        super().__init__(f"tier {tier!r}: {kind}")
        self.tier = tier
        self.kind = kind
