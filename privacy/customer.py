"""One customer's data: export it all (JSON), or forget it all, with an audit record.

A customer is a channel and the user id the channel's envelopes carry
(``InboundMessage.user_id``: a webchat session, a Telegram user id, a Slack
user id). Their conversations are found through the store's customer index
(``Store.customer_conversations``); each is exported with its summary,
transcript, ratings, escalation and flow state, or forgotten with
``Store.forget_conversation`` (all of those, and the index entries).

The audit record names the channel and a digest of the user id, not the id
itself: the log proves the erasure without keeping who it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from hub.store import Keys, Store

__all__ = ["ForgetReport", "customer_ref", "export_customer", "forget_customer"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What ``forget_customer`` removed."""

    channel: str
    customer: str  # customer_ref(): the channel and a digest of the user id
    conversations: int
    transcript_lines: int
    ratings: int
    escalations: int
    at: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def customer_ref(channel: str, user: str) -> str:
    """``webchat:user#1a2b3c4d5e6f``: a customer named without their id."""
    digest = hashlib.sha256(f"{channel}:{user}".encode()).hexdigest()[:12]
    return f"{channel}:user#{digest}"


async def export_customer(store: Store, channel: str, user: str) -> dict[str, Any]:
    """Everything the store keeps for one customer, as JSON-ready data."""
    conversations = []
    for conversation_id in await store.customer_conversations(channel, user):
        conversations.append(await _export_conversation(store, conversation_id))
    return {
        "channel": channel,
        "user": user,
        "exported_at": time.time(),
        "conversations": [c for c in conversations if c is not None],
    }


async def _export_conversation(store: Store, conversation_id: str) -> dict[str, Any] | None:
    conversation = await store.get_conversation(conversation_id)
    summary = await store.conversation_summary(conversation_id)
    if conversation is None and summary is None:
        return None
    return {
        "id": conversation_id,
        "conversation": conversation.to_json() if conversation else None,
        "summary": summary.to_json() if summary else None,
        "transcript": [e.to_json() for e in await store.transcript(conversation_id)],
        "ratings": [r.to_json() for r in await store.ratings(conversation_id)],
        "escalation": await store.get(Keys.escalation(conversation_id)),
        "flow": await store.get(Keys.flow_state(conversation_id)),
    }


async def forget_customer(store: Store, channel: str, user: str, *, actor: str) -> ForgetReport:
    """Remove the customer's conversations, transcripts, ratings, escalations and index
    entries; audit it as ``privacy.forget`` by ``actor``."""
    lines = ratings = escalations = forgotten = 0
    for conversation_id in await store.customer_conversations(channel, user):
        lines += len(await store.transcript(conversation_id))
        ratings += len(await store.ratings(conversation_id))
        escalations += await store.get(Keys.escalation(conversation_id)) is not None
        forgotten += await store.forget_conversation(conversation_id)
    ref = customer_ref(channel, user)
    detail = f"{ref}: {forgotten} conversations, {lines} transcript lines, {ratings} ratings"
    record = await store.audit(actor, "privacy.forget", detail)
    logger.info("forgot %s (%d conversations) for %s", ref, forgotten, actor)
    return ForgetReport(channel, ref, forgotten, lines, ratings, escalations, record.at)
