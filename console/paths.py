"""Where the console is mounted on the hub's server."""

from __future__ import annotations

__all__ = ["PREFIX"]

PREFIX = "/admin"
