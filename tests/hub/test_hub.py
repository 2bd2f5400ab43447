"""The hub on its own: dedupe, order, transcript, decisions, failures."""

from __future__ import annotations

import asyncio

from hub.config import Config
from hub.envelope import InboundMessage
from hub.errors import PermanentDeliveryError
from hub.hub import Hub
from hub.stages import Decision, Turn
from hub.store import MemoryStore
from routing.rules import RuleStage
from tests.fakes.channel import RecordingChannel

RULES = [{"name": "hi", "keywords": ["hi"], "action": "reply", "text": "Hello!"}]


class Echo:
    """A stage that answers everything, slowly for odd numbers (to tempt reordering)."""

    name = "echo"

    async def __call__(self, turn: Turn) -> Decision:
        text = turn.message.text
        if text.endswith(("1", "3", "5", "7", "9")):
            await asyncio.sleep(0.01)
        return Decision(stage=self.name, reason="echo", text=f"echo {text}")


class Broken:
    name = "broken"

    async def __call__(self, turn: Turn) -> Decision:
        raise RuntimeError("boom")


def msg(text: str, id: str, conversation: str = "c1") -> InboundMessage:
    return InboundMessage(channel="test", conversation_id=conversation, user_id="u",
                          message_id=id, text=text)


def make_hub(*stages: object) -> tuple[Hub, RecordingChannel]:
    hub = Hub(Config.from_mapping({"rules": RULES}), MemoryStore(), list(stages))  # type: ignore[arg-type]
    channel = RecordingChannel()
    hub.register(channel)
    return hub, channel


async def test_duplicates_are_dropped() -> None:
    hub, channel = make_hub(RuleStage())
    assert await hub.submit(msg("hi", "1"))
    assert not await hub.submit(msg("hi", "1"))
    assert await hub.submit(msg("hi", "2"))
    await hub.drain()
    assert channel.texts == ["Hello!", "Hello!"]


async def test_one_conversation_in_order_many_concurrently() -> None:
    hub, channel = make_hub(Echo())
    for i in range(10):
        for conv in ("a", "b", "c"):
            await hub.submit(msg(f"{conv}{i}", f"{conv}-{i}", conversation=conv))
    await hub.drain()
    for conv in ("a", "b", "c"):
        got = [m.text for m in channel.sent if m.conversation_id == conv]
        assert got == [f"echo {conv}{i}" for i in range(10)]


async def test_transcript_records_both_sides_with_the_decision() -> None:
    hub, channel = make_hub(RuleStage(), Echo())
    await hub.submit(msg("hi", "1"))
    await hub.submit(msg("other", "2"))
    await hub.drain()
    conversation = await hub.store.conversation_at("test:c1")
    assert conversation is not None
    lines = await hub.store.transcript(conversation.id)
    assert [(e.sender, e.text, e.stage) for e in lines] == [
        ("customer", "hi", None), ("bot", "Hello!", "rules"),
        ("customer", "other", None), ("bot", "echo other", "echo"),
    ]
    assert lines[1].reply_to == "1" and "rule 'hi'" in (lines[1].reason or "")


async def test_a_failing_stage_becomes_an_apology_not_a_silence() -> None:
    hub, channel = make_hub(Broken())
    await hub.submit(msg("anything", "1"))
    await hub.drain()
    assert channel.texts == [Config().messages.apology]
    assert hub.metrics.decisions.labels("error")._value.get() == 1


async def test_permanent_delivery_failure_is_recorded_on_the_conversation() -> None:
    hub, channel = make_hub(RuleStage())
    channel.fail_with = PermanentDeliveryError("bot was blocked by the user")
    await hub.submit(msg("hi", "1"))
    await hub.drain()
    conversation = await hub.store.conversation_at("test:c1")
    assert conversation is not None
    assert conversation.data["delivery_failed"]["reason"] == "bot was blocked by the user"
    assert hub.metrics.errors.labels("send:test")._value.get() == 1


async def test_unhelped_turns_count_failures_and_a_helped_one_resets() -> None:
    hub, channel = make_hub(RuleStage())
    for i, text in enumerate(["???", "!!!", "hi"]):
        await hub.submit(msg(text, str(i)))
        await hub.drain()
        conversation = await hub.store.conversation_at("test:c1")
        assert conversation is not None
        assert conversation.failures == [1, 2, 0][i]


async def test_resolved_conversation_opens_a_fresh_linked_one() -> None:
    hub, channel = make_hub(RuleStage())
    await hub.submit(msg("hi", "1"))
    await hub.drain()
    old = await hub.store.conversation_at("test:c1")
    assert old is not None
    await hub.store.save_conversation(old.evolve(status="resolved"))
    await hub.submit(msg("hi", "2"))
    await hub.drain()
    fresh = await hub.store.conversation_at("test:c1")
    assert fresh is not None and fresh.id != old.id and fresh.linked_from == old.id
