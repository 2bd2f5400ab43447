"""Errors raised by the hub, under one base class.

HubError
 ├── ConfigError          config.toml (or the FAQ file) is invalid; names file, key and line
 ├── AddressError         a string is not a channel address ("<channel>:<conversation id>")
 ├── RateLimited          a rate limit has no token left for this (the work was not taken)
 ├── StoreError           the store (memory or Redis) failed
 │    └── StoreUnavailable    Redis is unreachable
 │         └── HubDraining     this process is shutting down; send the work elsewhere
 ├── DeliveryError        a message could not be delivered to a channel
 │    └── PermanentDeliveryError  it never will be (bot blocked, channel not found)
 └── ProviderError        an LLM provider failed, timed out or declined
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AddressError",
    "ConfigError",
    "ConfigProblem",
    "DeliveryError",
    "HubDraining",
    "HubError",
    "PermanentDeliveryError",
    "ProviderError",
    "RateLimited",
    "StoreError",
    "StoreUnavailable",
]


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a config file: where, and what.

    A ``warning`` does not stop the hub (``hub check`` prints it and exits 0).
    """

    file: str
    key: str
    message: str
    line: int | None = None
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        level = " warning:" if self.level == "warning" else ""
        return f"{where}:{key}{level} {self.message}"


class ConfigError(HubError):
    """A config or FAQ file is invalid. ``problems`` lists each fault."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class AddressError(HubError):
    """A channel address is malformed: no channel, no conversation id, or no ``:``."""


class RateLimited(HubError):
    pass


class StoreError(HubError):
    """The conversation store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached (Redis down or refusing connections)."""


class HubDraining(StoreUnavailable):
    """This process stopped taking work (SIGTERM): the platform or page should retry,
    and reaches another process. Adapters treat it as an unavailable store."""


class DeliveryError(HubError):
    """A message could not be delivered; it may be retried."""


class PermanentDeliveryError(DeliveryError):
    """A message will never be deliverable (the customer blocked the bot, ...)."""


class ProviderError(HubError):
    """An LLM provider failed, timed out or declined to answer."""
