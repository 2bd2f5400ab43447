"""A webchat reply is delivered by the commit itself: once, even when the entry is retried.

The commit writes the outbox, the transcript lines and the reply's frame in one
step (``hub/store/steps.py``). Here a settled listener on the webchat channel
fails the first time, after the commit and before the ack, as a crash there
would: the retry finds the outbox and must not send the frame again.
"""

from __future__ import annotations

import asyncio

import pytest

from adapters.webchat.bus import START
from hub.envelope import InboundMessage
from hub.ingress import Entry, Outbox, Work
from tests.harness import WebchatClient, make_config, running_hub

RULES = [{"name": "ping", "pattern": "^ping$", "action": "reply", "text": "pong"}]


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_a_retried_entry_does_not_send_its_committed_reply_again(
    store: str, request: pytest.FixtureRequest
) -> None:
    url = "memory://" if store == "memory" else request.getfixturevalue("redis_url")
    settled: list[tuple[str, bool]] = []

    async def flaky(message: InboundMessage, outbox: Outbox) -> None:
        settled.append((message.text, all(d.committed for d in outbox.deliveries)))
        if len(settled) == 1:
            raise RuntimeError("lost after the commit, before the ack (test)")

    async with running_hub(make_config(rules=RULES, store={"url": url})) as service:
        service.hub.settled_listeners.setdefault("webchat", []).append(flaky)
        async with WebchatClient.connect(service.url) as customer:
            assert (await customer.say("ping"))["text"] == "pong"
            for _ in range(100):  # the retry comes after a short back-off
                if len(settled) == 2:
                    break
                await asyncio.sleep(0.05)
            assert await customer.silence(0.5) == []  # and it sent nothing more
            webchat = next(a for a in service.adapters if a.name == "webchat")
            frames = await webchat.bus.read(customer.session_id, START)  # type: ignore[attr-defined]
            transcript = await service.hub.store.transcript(
                (await service.hub.store.conversation_at(f"webchat:{customer.session_id}")).id
            )
    assert [f["text"] for _, f in frames if f["type"] == "message"] == ["pong"]  # published once
    assert settled == [("ping", True), ("ping", True)]  # retried, from the kept outbox
    assert [(e.sender, e.text) for e in transcript] == [("customer", "ping"), ("bot", "pong")]


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_a_commit_that_acks_keeps_only_the_record_that_it_is_done(
    store: str, request: pytest.FixtureRequest
) -> None:
    """Acked in its own commit, an entry can come back only as the retry of a commit
    whose answer was lost; that retry must find it done and send nothing, and needs
    no copy of the replies (their frames and transcript lines are already written)."""
    url = "memory://" if store == "memory" else request.getfixturevalue("redis_url")
    async with running_hub(make_config(rules=RULES, store={"url": url})) as service:
        async with WebchatClient.connect(service.url) as customer:
            assert (await customer.say("ping", id="q1"))["text"] == "pong"
            message = InboundMessage("webchat", customer.session_id, "u", f"{customer.session_id}/q1", "ping")
            work = Work.of_message(message)
            kept = await service.hub.log.outbox(Entry("0-0", 0, work, deliveries=2))
    assert kept is not None and kept.deliveries == () and kept.transcribed
