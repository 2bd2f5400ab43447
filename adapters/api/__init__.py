"""The server API channel: JSON and Server-Sent Events over HTTP, webhooks for agents."""

from adapters.api.adapter import ApiAdapter, to_envelope, to_platform
from adapters.api.auth import secret_problems

__all__ = ["ApiAdapter", "secret_problems", "to_envelope", "to_platform"]
