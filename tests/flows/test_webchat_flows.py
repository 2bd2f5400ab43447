"""The demo flows, end to end over a real webchat WebSocket."""

from __future__ import annotations

import asyncio

from hub.stages import Decision, Turn
from tests.fakes.shop_api import FakeShop
from tests.fakes.slack_api import FakeSlack
from tests.flows.conftest import demo_sections, shop_config
from tests.handoff.conftest import agents_channel, handoff_config
from tests.harness import WebchatClient, make_config, running_hub

ASK_ORDER = "What is your order number? It starts with NW- and has 5 digits."
BAD_ORDER = "That doesn't look like an order number (NW- and 5 digits)."


def labels(frame: dict[str, object]) -> list[str]:
    return [b["label"] for b in frame.get("buttons", [])]  # type: ignore[index, union-attr]


async def test_order_status_with_the_shipped_demo_plugin() -> None:
    async with running_hub(make_config(demo_sections())) as hub, WebchatClient.connect(hub.url) as chat:
        assert (await chat.say("where is my order?"))["text"] == ASK_ORDER
        answer = await chat.say("NW-10042")
        assert answer["text"] == (
            "Order NW-10042 is shipped; expected in 2 working days. "
            "DHL tracking number: JD014600006452190042."
        )
        metrics = hub.hub.metrics.render().decode()
        assert 'switchboard_action_calls_total{action="order_status",outcome="ok"} 1.0' in metrics


async def test_returns_decision_tree_with_the_shipped_demo_plugin() -> None:
    async with running_hub(make_config(demo_sections())) as hub, WebchatClient.connect(hub.url) as chat:
        assert "Which order" in (await chat.say("I want to return my jacket"))["text"]
        reason = await chat.say("it's NW-10043")
        assert reason["text"] == "Why are you returning order NW-10043?"
        assert labels(reason) == ["wrong size", "damaged", "not as described", "changed my mind"]
        done = await chat.say("damaged")
        assert done["text"].startswith("Sorry about that. Return RMA-")
        assert "free return label" in done["text"]

        assert "Which order" in (await chat.say("I want to return my boots"))["text"]
        late = await chat.say("NW-10044")
        assert "45 days ago, outside our 30-day return window" in late["text"]
        assert labels(late) == ["Talk to a person"]


async def test_returns_over_the_fake_shop_api(shop: FakeShop) -> None:
    async with running_hub(shop_config(shop)) as hub, WebchatClient.connect(hub.url) as chat:
        await chat.say("I want to return an order")
        await chat.say("NW-10043")
        done = await chat.say("Wrong size")  # a choice, whatever its case
        assert done["text"].startswith("Return RMA-00001 is open for order NW-10043.")
    posted = shop.for_path("/api/returns")
    assert len(posted) == 1 and posted[0].header("Idempotency-Key")
    assert posted[0].body == b'{"order_id": "NW-10043", "reason": "wrong size"}'


async def test_a_slot_is_filled_from_the_first_message(shop: FakeShop) -> None:
    async with running_hub(shop_config(shop)) as hub, WebchatClient.connect(hub.url) as chat:
        answer = await chat.say("Where is order NW-10045?")
        assert answer["text"].startswith("Order NW-10045 is delayed, sorry")
        assert [b["value"] for b in answer["buttons"]] == ["talk to a person"]
    assert [r.path for r in shop.requests] == ["/api/orders/NW-10045"]


async def test_bad_answers_get_the_retry_text_then_a_hand_off(shop: FakeShop) -> None:
    async with running_hub(shop_config(shop)) as hub, WebchatClient.connect(hub.url) as chat:
        decisions: list[Decision] = []

        async def seen(turn: Turn, decision: Decision) -> None:
            decisions.append(decision)

        hub.hub.decision_listeners.append(seen)
        await chat.say("where is my order?")
        assert (await chat.say("I don't know it"))["text"] == BAD_ORDER
        assert (await chat.say("12345"))["text"] == BAD_ORDER
        handed = await chat.say("NW-1")
        assert handed["text"] not in ("", BAD_ORDER)  # no agents here: said so, not silence
        assert "no valid order_id after 3 tries" in decisions[-1].reason
        after = await chat.say("NW-10042")  # the flow is over: not taken as its answer
        assert "Order NW-10042" not in after["text"]
    assert shop.requests == []


async def test_the_hand_off_after_max_retries_carries_the_slots(slack: FakeSlack, shop: FakeShop) -> None:
    sections = {**shop_config(shop).model_dump(include={"rules", "flows", "actions"})}
    config = handoff_config(slack, sections)
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("I want to return my order")
        await chat.say("NW-10043")
        for _ in range(3):
            await chat.say("because")
        shown = str((await agents.escalated())["blocks"])
        assert "no valid reason after 3 tries" in shown
        assert "order_id=NW-10043" in shown


async def test_asking_for_a_person_mid_flow_carries_the_slots(slack: FakeSlack, shop: FakeShop) -> None:
    config = handoff_config(slack, shop_config(shop).model_dump(include={"rules", "flows", "actions"}))
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("I want to return my order")
        await chat.say("NW-10043")
        await chat.say("talk to a person")
        shown = str((await agents.escalated())["blocks"])
        assert "customer pressed the button for a person" in shown
        assert "in flow returns at step ask-reason, collected: order_id=NW-10043" in shown


async def test_cancel_ends_the_flow(shop: FakeShop) -> None:
    async with running_hub(shop_config(shop)) as hub, WebchatClient.connect(hub.url) as chat:
        await chat.say("where is my order?")
        cancelled = await chat.say("never mind")
        assert cancelled["text"] == "OK, I've stopped that. Anything else I can help with?"
        after = await chat.say("NW-10042")
        assert "Order NW-10042" not in after["text"]
    assert shop.requests == []


async def test_an_idle_flow_expires_and_the_next_message_starts_fresh(shop: FakeShop) -> None:
    config = shop_config(shop, {"flows": {**demo_sections()["flows"], "expire_after_s": 0.3}})
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
        await chat.say("where is my order?")
        await asyncio.sleep(0.5)
        after = await chat.say("NW-10042")
        assert "Order NW-10042" not in after["text"]
        assert (await chat.say("where is my order?"))["text"] == ASK_ORDER
        assert "Order NW-10042 is shipped" in (await chat.say("NW-10042"))["text"]


async def test_template_syntax_from_the_customer_is_data() -> None:
    flows = {"list": [{"name": "greet", "steps": [
        {"id": "ask-name", "ask": "Your name?", "slot": "name"},
        {"id": "hello", "say": "Hello {{ slots.name }}, you wrote: {{ slots.name | length }} characters.",
         "end": True},
    ]}]}
    rules = [{"name": "greet", "keywords": ["greet me"], "action": "flow", "flow": "greet"}]
    async with running_hub(make_config(rules=rules, flows=flows)) as hub, WebchatClient.connect(hub.url) as chat:
        await chat.say("greet me")
        answer = await chat.say("{{ 7*7 }}")
        assert answer["text"] == "Hello {{ 7*7 }}, you wrote: 9 characters."
        await chat.say("greet me")
        loop = "{% for i in range(3) %}x{% endfor %}{{ ''.__class__ }}"
        assert (await chat.say(loop))["text"].startswith(f"Hello {loop}, you wrote")
