"""``hub ask --script FILE``: play a conversation, one customer line per line of FILE.

Every line goes through the same stages as in ``hub run``, in one conversation
kept in a throwaway memory store, so flows carry their state from line to
line. Each result is the decision (as ``hub ask`` prints it) plus where the
conversation stands in its flow afterwards: the flow, the step waiting for an
answer and the slots collected. Actions are called for real (point them at a
test system); nothing is sent to a channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AsyncExitStack
from typing import Any

from flows.state import FlowStates
from hub.config import Config
from hub.conversation import Conversation, TranscriptEntry
from hub.envelope import InboundMessage, OutboundMessage, new_id

__all__ = ["play", "script_lines"]


def script_lines(text: str) -> list[str]:
    """The customer lines of a script: blank lines and lines starting with ``#`` are skipped."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


async def play(config: Config, lines: Iterable[str], channel: str = "webchat") -> list[dict[str, Any]]:
    """Each line's decision, trace and flow state after it, in order."""
    from hub.hub import Hub
    from hub.metrics import Metrics
    from hub.service import build_stages, enter_stages
    from hub.store import MemoryStore

    store = MemoryStore()
    metrics = Metrics()
    stages = build_stages(config, store, metrics)
    hub = Hub(config, store, stages, metrics=metrics)
    states = FlowStates(store)
    results: list[dict[str, Any]] = []
    conversation: Conversation | None = None
    async with AsyncExitStack() as stack:
        await enter_stages(stack, stages)
        for line in lines:
            message = InboundMessage(
                channel=channel, conversation_id="ask", user_id="admin", message_id=new_id(),
                text=line,
            )
            if conversation is None:
                conversation = Conversation.start(message)
                await store.save_conversation(conversation)
            result, conversation = await _one(hub, conversation, message)
            state = await states.load(conversation.id)
            result["flow_after"] = (
                {"flow": state.flow, "step": state.step, "slots": dict(state.slots)} if state else None
            )
            results.append(result)
    return results


async def _one(hub: Any, conversation: Conversation, message: InboundMessage) -> tuple[dict[str, Any], Conversation]:
    keep = hub.config.store.transcript_max
    await hub.store.append(conversation.id, TranscriptEntry.inbound(message), keep)
    turn = await hub.new_turn(message, conversation, dry_run=True)
    decision = await hub.decide(turn)
    await hub.record(turn, decision)
    if decision.text:
        reply = OutboundMessage.reply(message, decision.text, buttons=decision.buttons)
        entry = TranscriptEntry.outbound(reply, stage=decision.stage, reason=decision.reason)
        await hub.store.append(conversation.id, entry, keep)
    result = decision.as_dict()
    result["text"] = message.text
    result["trace"] = list(turn.trace)
    result["tags"] = sorted(turn.tags)
    return result, turn.conversation
