"""What the hub expects of a channel adapter, and what adapters may call on the hub."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aiohttp import web

from hub.envelope import InboundMessage, OutboundMessage
from hub.store.base import RateLimit
from hub.store.steps import Step

__all__ = ["Adapter", "Ingress", "StepSender"]


@runtime_checkable
class Ingress(Protocol):
    """Where adapters hand inbound envelopes.

    ``submit`` returns quickly: False for a duplicate (same channel and message
    id seen recently), True once the message is accepted. Messages of one
    conversation are processed strictly in the order they were accepted; this
    ordering is the ingress's promise, not the adapter's. It raises
    :class:`~hub.errors.StoreUnavailable` when it cannot accept the message,
    so the adapter can ask the platform to deliver it again. With ``limits``
    (the adapter's rate limits), a token is taken from each in the same step,
    and :class:`~hub.errors.RateLimited` is raised, with nothing accepted, when
    one has none left.
    """

    async def submit(self, message: InboundMessage, limits: Sequence[RateLimit] = ()) -> bool: ...


@runtime_checkable
class Adapter(Protocol):
    """One channel. Built from its config section with an Ingress passed in.

    ``routes`` adds the adapter's HTTP endpoints (webhooks, pages) to the hub's
    server before it starts. ``send`` delivers one message in order, retrying
    what is worth retrying; it raises PermanentDeliveryError when the message
    can never be delivered and DeliveryError when it gave up for now. A
    StoreError means the hub's own store failed on the way (a channel that
    delivers through it, like webchat): the hub keeps the entry pending and
    sends its outbox again once the store answers.
    """

    name: str

    def routes(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: OutboundMessage) -> None: ...

    async def typing(self, message: InboundMessage, on: bool) -> None: ...


@runtime_checkable
class StepSender(Protocol):
    """An adapter whose delivery is itself a write to the hub's store (webchat).

    The hub makes that write inside the entry's commit, with the outbox and the
    ack (see :mod:`hub.store.steps`), so the message goes out exactly once and
    costs no round trip of its own. ``send`` stays for messages sent outside an
    entry.
    """

    def send_step(self, message: OutboundMessage) -> Step: ...
