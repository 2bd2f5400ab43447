"""Without an agents channel a hand-off never promises a person nor goes silent."""

from __future__ import annotations

from hub.messages import MessageTexts
from tests.harness import WebchatClient, make_config, running_hub

RULES = [{"name": "legal", "keywords": ["lawyer", "chargeback"], "action": "handoff",
          "queue": "legal"}]
TEXTS = MessageTexts()


async def test_handoff_rule_without_agents_says_so_and_the_bot_keeps_answering() -> None:
    async with running_hub(make_config(rules=RULES)) as hub, WebchatClient.connect(hub.url) as chat:
        reply = await chat.say("my lawyer will call you")
        assert reply["text"] == TEXTS.no_agents
        conversation = await hub.hub.store.conversation_at(f"webchat:{chat.session.split('.')[0]}")
        assert conversation is not None and conversation.status == "bot"
        asked = await chat.say("talk to a human")
        assert asked["text"] == f"{TEXTS.no_agents} {TEXTS.no_agents_meanwhile}"


async def test_a_threat_with_no_agents_gets_the_contact_route_not_a_promise() -> None:
    config = make_config(rules=RULES, messages={"contact": "help@shop.example"})
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
        reply = await chat.say("I will file a chargeback with my bank")
        assert reply["text"] == (
            "Sorry, there is no one from the team on this channel. "
            "You can reach our team at help@shop.example."
        )
        assert "do my best" not in reply["text"]
        asked = await chat.say("can I get a human please")
        assert "help@shop.example" in asked["text"] and "do my best" in asked["text"]


async def test_nothing_answers_and_no_agents_offers_the_contact_route() -> None:
    config = make_config(kb={"enabled": False}, llm={"enabled": False}, messages={
        "contact": "https://shop.example/contact",
        "cannot_help": "No idea, sorry.",
        "contact_route": "Write to us: {contact}",
    })
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
        reply = await chat.say("what is the airspeed of an unladen swallow")
        assert reply["text"] == "No idea, sorry. Write to us: https://shop.example/contact"
