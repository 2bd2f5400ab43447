"""The console's errors.

    ConsoleError
    └── FaqEditError      an FAQ edit refused (unknown entry, invalid result, stale diff)
"""

from __future__ import annotations

from hub.errors import HubError

__all__ = ["ConsoleError", "FaqEditError"]


class ConsoleError(HubError):
    """Base of the console's errors."""


class FaqEditError(ConsoleError):
    """An FAQ edit was refused; the message says why, in the admin's words."""
