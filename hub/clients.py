"""Who is on the other end of a request: the client address, through trusted proxies only.

``X-Forwarded-For`` is believed only when the peer itself is one of
``[server] trusted_proxies``; then the list is walked from the right (the hop
nearest to us) past every trusted proxy, and the first other address is the
client. A client cannot pick its own address by sending the header: a header
from an untrusted peer is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

__all__ = ["ClientAddresses"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddresses:
    """``client_ip(request)`` with the proxies of ``[server] trusted_proxies``."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies
        )

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def from_proxy(self, request: web.BaseRequest) -> bool:
        """True if the peer itself is a trusted proxy (its forwarded headers count)."""
        return bool(self.trusted) and self._trusted(request.remote or "")

    def client_ip(self, request: web.BaseRequest) -> str:
        """The client's address as text ("unknown" when the transport has none)."""
        peer = request.remote or "unknown"
        if not self.trusted or not self._trusted(peer):
            return peer
        hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", ())
                for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop if _is_ip(hop) else peer
        return hops[0] if hops else peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
