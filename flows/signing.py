"""How Switchboard signs its requests to a shop's systems, and how to verify them.

The scheme is Slack's request signing with our own header names:

* ``X-Switchboard-Timestamp``: the Unix time in seconds when the request was made;
* ``X-Switchboard-Signature``: ``v1=`` followed by the hex HMAC-SHA256, keyed
  with the shared secret (``[actions.NAME] secret_env``), of the bytes
  ``v1:{timestamp}:{body}``. ``body`` is the request body exactly as sent
  (empty for GET).

A shop verifies it by recomputing the HMAC over the raw body, comparing in
constant time, and rejecting timestamps more than five minutes old (replays).
:func:`verify` does exactly that and is what docs/flows.md shows.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "signature_headers", "verify"]

SIGNATURE_HEADER = "X-Switchboard-Signature"
TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
VERSION = "v1"
MAX_AGE_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def signature_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None
) -> bool:
    """True if ``signature`` is ours for ``body`` and ``timestamp`` is fresh."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    if age > MAX_AGE_S:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
