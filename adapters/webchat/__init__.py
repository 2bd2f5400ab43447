"""The webchat channel: a chat page and a WebSocket protocol on the hub's server."""

from adapters.webchat.adapter import WebchatAdapter, to_envelope, to_frame

__all__ = ["WebchatAdapter", "to_envelope", "to_frame"]
