"""Customers' edits: recorded in the transcript, never answered twice.

An adapter marks an edit with ``InboundMessage.edit_of``, the ``message_id``
of the message it edits (Telegram's ``edited_message``, Slack's
``message_changed``). The hub records every edit in the transcript, marked
(``TranscriptEntry.edit_of``). A conversation's messages run one at a time,
in order, so when an edit is handled its original has already been decided
and answered: if the original is in the transcript, the edit is only
recorded (:func:`settle` returns the decision that says so). An edit of a
message the hub never saw (a group message that mentions the bot only after
the edit, or one older than the transcript) goes through the stages like a
new message. During a hand-off every edit goes to the agents, as every
customer message does.
"""

from __future__ import annotations

from hub.conversation import Conversation
from hub.envelope import InboundMessage
from hub.stages import Decision
from hub.store import Store

__all__ = ["STAGE", "settle"]

STAGE = "edit"


async def settle(
    store: Store, conversation: Conversation, message: InboundMessage, limit: int
) -> Decision | None:
    """The decision for an edit whose original was already handled, else None.

    ``limit`` is how far back the transcript is searched for the original.
    """
    if message.edit_of is None or conversation.status == "handoff":
        return None
    entries = await store.transcript(conversation.id, limit=limit)
    if not any(entry.id == message.edit_of for entry in entries):
        return None
    return Decision(
        stage=STAGE,
        reason=f"edit of {message.edit_of}, which was already handled: recorded, not answered again",
    )
