"""One contract for every store: MemoryStore and RedisStore (a real redis-server)."""

from __future__ import annotations

import asyncio

from hub.conversation import Conversation, TranscriptEntry
from hub.envelope import Button, InboundMessage
from hub.store import Keys, RateLimit, Store


def message(text: str = "hi", conversation: str = "c1", id: str = "m1") -> InboundMessage:
    return InboundMessage(
        channel="webchat", conversation_id=conversation, user_id="u1", message_id=id, text=text
    )


async def test_claim_is_first_come_and_expires(store: Store) -> None:
    assert await store.claim("webchat:m1", ttl_s=0.2)
    assert not await store.claim("webchat:m1", ttl_s=0.2)
    assert await store.claim("webchat:m2", ttl_s=0.2)
    await asyncio.sleep(0.35)
    assert await store.claim("webchat:m1", ttl_s=10)


async def test_release_forgets_a_claim(store: Store) -> None:
    assert await store.claim("k", ttl_s=10)
    await store.release("k")
    assert await store.claim("k", ttl_s=10)


async def test_conversation_roundtrip_and_address(store: Store) -> None:
    conversation = Conversation.start(message())
    assert await store.conversation_at("webchat:c1") is None
    await store.save_conversation(conversation)
    assert await store.get_conversation(conversation.id) == conversation
    assert await store.conversation_at("webchat:c1") == conversation

    handed = conversation.evolve(status="handoff", tags=("vip",), data={"queue": "billing"})
    await store.save_conversation(handed)
    loaded = await store.conversation_at("webchat:c1")
    assert loaded is not None
    assert (loaded.status, loaded.tags, loaded.data) == ("handoff", ("vip",), {"queue": "billing"})


async def test_new_conversation_takes_over_the_address(store: Store) -> None:
    old = Conversation.start(message())
    await store.save_conversation(old)
    fresh = Conversation.start(message(), linked_from=old.id)
    await store.save_conversation(fresh)
    current = await store.conversation_at("webchat:c1")
    assert current is not None and current.id == fresh.id and current.linked_from == old.id
    assert await store.get_conversation(old.id) == old


async def test_transcript_is_ordered_and_bounded(store: Store) -> None:
    for i in range(7):
        entry = TranscriptEntry(
            id=f"e{i}", sender="bot" if i % 2 else "customer", text=f"line {i}", timestamp=float(i),
            buttons=(Button("Yes", "yes"),) if i == 6 else (),
        )
        await store.append("conv", entry, max_len=5)
    lines = await store.transcript("conv")
    assert [e.text for e in lines] == [f"line {i}" for i in range(2, 7)]
    assert lines[-1].buttons == (Button("Yes", "yes"),)
    assert [e.id for e in await store.transcript("conv", limit=2)] == ["e5", "e6"]
    assert await store.transcript("conv", limit=0) == []
    assert await store.transcript("nobody") == []


async def test_key_values_roundtrip_json_and_expire(store: Store) -> None:
    assert await store.get("missing") is None
    await store.set("telegram:offset", 42)
    await store.set("doc", {"a": [1, 2], "b": None})
    await store.set("brief", "x", ttl_s=0.2)
    assert await store.get("telegram:offset") == 42
    assert await store.get("doc") == {"a": [1, 2], "b": None}
    assert await store.get("brief") == "x"
    await asyncio.sleep(0.35)
    assert await store.get("brief") is None
    await store.delete("doc")
    assert await store.get("doc") is None


async def test_float_counters(store: Store) -> None:
    assert await store.incr("cost", 0.25) == 0.25
    assert await store.incr("cost", 0.5) == 0.75
    assert await store.incr("daily", 1.0, ttl_s=0.2) == 1.0
    await asyncio.sleep(0.35)
    assert await store.incr("daily", 2.0) == 2.0


async def test_sets(store: Store) -> None:
    await store.add_member("open", "a")
    await store.add_member("open", "b")
    await store.add_member("open", "a")
    assert await store.members("open") == {"a", "b"}
    await store.remove_member("open", "a")
    assert await store.members("open") == {"b"}
    assert await store.members("none") == set()


async def test_ping(store: Store) -> None:
    assert await store.ping()


async def test_a_transcript_with_a_ttl_is_forgotten_after_its_newest_entry(store: Store) -> None:
    def line(i: int) -> TranscriptEntry:
        return TranscriptEntry(id=f"e{i}", sender="customer", text=f"line {i}", timestamp=float(i))

    await store.append("kept", line(0), max_len=5)
    await store.append("brief", line(0), max_len=5, ttl_s=0.4)
    await asyncio.sleep(0.25)
    await store.append("brief", line(1), max_len=5, ttl_s=0.4)  # the newest entry renews it
    await asyncio.sleep(0.25)
    assert [e.id for e in await store.transcript("brief")] == ["e0", "e1"]
    await asyncio.sleep(0.3)
    assert await store.transcript("brief") == []
    assert [e.id for e in await store.transcript("kept")] == ["e0"]


async def test_token_buckets_are_shared_refilled_and_all_or_nothing(store: Store) -> None:
    session = RateLimit(Keys.webchat_rate_session("s1"), burst=3, per_s=5.0)
    address = RateLimit(Keys.webchat_rate_ip("127.0.0.1"), burst=4, per_s=0.01)
    assert [await store.take_tokens([session]) for _ in range(4)] == [True, True, True, False]
    await asyncio.sleep(0.25)  # 5 a second: one token back
    assert await store.take_tokens([session, address])
    assert not await store.take_tokens([session, address])  # the session is empty...
    other = RateLimit(Keys.webchat_rate_session("s2"), burst=3, per_s=5.0)
    assert [await store.take_tokens([other, address]) for _ in range(4)] == [True, True, True, False]
    # ...and the address's 4 tokens went 1 + 3: the refused take took none from it
    assert not await store.take_tokens([address])
    assert await store.take_tokens([RateLimit(Keys.webchat_hellos("127.0.0.1"), 1, 1.0)])


async def test_hourly_buckets_add_up_and_expire(store: Store) -> None:
    await store.add_to_hour("2026120204", {"msg:webchat": 1, "cost:small": 0.25}, ttl_s=0.5)
    await store.add_to_hour("2026120204", {"msg:webchat": 2, "lat:3": 1}, ttl_s=60)
    await store.add_to_hour("2026120205", {"stage:kb": 1}, ttl_s=60)
    hours = await store.hours(["2026120203", "2026120204", "2026120205"])
    assert hours == [{}, {"msg:webchat": 3.0, "cost:small": 0.25, "lat:3": 1.0}, {"stage:kb": 1.0}]
    await asyncio.sleep(0.7)  # the first write's TTL holds: a bucket is not kept alive by use
    assert await store.hours(["2026120204", "2026120205"]) == [{}, {"stage:kb": 1.0}]
