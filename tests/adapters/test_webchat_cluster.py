"""Webchat across processes: two HubService instances on one real redis-server.

A reply decided (or an agent message relayed) by either process reaches the
session's socket on whichever process holds it; a reconnecting socket replays
what it missed; a Redis restart does not stop delivery.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import pytest
from redis import asyncio as aioredis

from adapters.webchat.bus import Frame
from adapters.webchat.redis_bus import RedisSessionBus
from hub.envelope import OutboundMessage
from hub.service import HubService
from tests.harness import RedisServer, WebchatClient, make_config, running_hub, start_redis

RULES = [{"name": "hours", "keywords": ["hours"], "action": "reply", "text": "Nine to five."}]


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, so restarting it disturbs no other test."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def two_hubs(own_redis: RedisServer) -> AsyncIterator[tuple[HubService, HubService]]:
    config = make_config(rules=RULES, store={"url": own_redis.url})
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_hub(config))
        b = await stack.enter_async_context(running_hub(config))
        yield a, b


def agent_says(session: str, text: str) -> OutboundMessage:
    return OutboundMessage(
        channel="webchat", conversation_id=session, text=text, sender="agent", sender_name="Ann"
    )


async def test_a_message_delivered_by_one_process_reaches_the_socket_on_the_other(
    two_hubs: tuple[HubService, HubService],
) -> None:
    a, b = two_hubs
    async with WebchatClient.connect(a.url) as chat:
        assert (await chat.say("hours?", id="q1"))["text"] == "Nine to five."
        assert await b.hub.deliver(agent_says(chat.session_id, "Ann here, from the other process."))
        relayed = await chat.expect("message", timeout=5, **{"from": "agent"})
        assert (relayed["text"], relayed["name"]) == ("Ann here, from the other process.", "Ann")
        assert await chat.silence(0.3) == []  # once, not once per process


async def test_both_sockets_of_a_session_on_two_processes_get_each_reply(
    two_hubs: tuple[HubService, HubService],
) -> None:
    a, b = two_hubs
    async with WebchatClient.connect(a.url) as tab_a:
        async with WebchatClient.connect(b.url, session=tab_a.session) as tab_b:
            await tab_a.send({"type": "message", "id": "q1", "text": "hours?"})
            for tab in (tab_a, tab_b):
                assert (await tab.expect("message", reply_to="q1"))["text"] == "Nine to five."
            for tab in (tab_a, tab_b):
                assert await tab.silence(0.3) == []


async def test_a_reconnecting_socket_replays_what_it_missed_from_its_last_id(
    two_hubs: tuple[HubService, HubService],
) -> None:
    a, b = two_hubs
    async with WebchatClient.connect(a.url) as chat:
        last = await chat.say("hours?", id="q1")
        token, session = chat.session, chat.session_id
    # While the customer is away, a frame that no transcript holds (an apology, say).
    await b.hub.adapters["webchat"].send(agent_says(session, "Missed while away."))
    async with WebchatClient.connect(b.url) as again:
        await again.ws.send_json({"type": "hello", "session": token, "last_id": last["id"]})
        welcome = await again.expect("welcome")
        assert [f["text"] for f in welcome["history"]] == ["hours?", "Nine to five."]
        assert (await again.expect("message"))["text"] == "Missed while away."
        assert await again.silence(0.3) == []  # nothing the history already showed


async def test_delivery_resumes_after_a_redis_restart(
    two_hubs: tuple[HubService, HubService], own_redis: RedisServer
) -> None:
    a, b = two_hubs
    async with WebchatClient.connect(a.url) as chat:
        session = chat.session_id
        assert await b.hub.deliver(agent_says(session, "before"))
        assert (await chat.expect("message"))["text"] == "before"
        own_redis.restart()
        await _deliver_when_redis_answers(b, agent_says(session, "after the restart"))
        assert (await chat.expect("message", timeout=15))["text"] == "after the restart"
        assert (await chat.say("hours?", id="q2"))["text"] == "Nine to five."


async def _deliver_when_redis_answers(service: HubService, message: OutboundMessage) -> None:
    for _ in range(50):
        try:
            if await service.hub.deliver(message):
                return
        except Exception:  # the store is still coming back
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the hub never delivered after the restart")


class Recorder:
    def __init__(self) -> None:
        self.items: asyncio.Queue[Frame | None] = asyncio.Queue()

    def notify(self, frame: Frame | None) -> None:
        self.items.put_nowait(frame)


async def test_a_wake_up_lost_with_the_subscription_is_caught_up_from_the_stream(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    bus = RedisSessionBus(client)
    await bus.start()
    try:
        listener = Recorder()
        await bus.listen("s1", listener)
        assert await asyncio.wait_for(listener.items.get(), 5) is None
        cursor = await bus.position("s1")
        killed = await client.client_kill_filter(_type="pubsub")
        assert killed == 1
        await bus.publish("s1", {"type": "message", "id": "m1", "text": "while unsubscribed"})
        # The wake-up went nowhere; the resubscription says "read the outbox" instead.
        assert await asyncio.wait_for(listener.items.get(), 10) is None
        assert [f["id"] for _, f in await bus.read("s1", cursor)] == ["m1"]
    finally:
        await bus.close()
        await client.aclose()
