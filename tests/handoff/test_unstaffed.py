"""Without an agents channel a hand-off never promises a person nor goes silent."""

from __future__ import annotations

from hub.handoff.escalation import NO_AGENTS
from tests.harness import WebchatClient, make_config, running_hub

RULES = [{"name": "legal", "keywords": ["lawyer"], "action": "handoff", "queue": "legal"}]


async def test_handoff_rule_without_agents_says_so_and_the_bot_keeps_answering() -> None:
    async with running_hub(make_config(rules=RULES)) as hub, WebchatClient.connect(hub.url) as chat:
        reply = await chat.say("my lawyer will call you")
        assert reply["text"] == NO_AGENTS
        conversation = await hub.hub.store.conversation_at(f"webchat:{chat.session.split('.')[0]}")
        assert conversation is not None and conversation.status == "bot"
        assert (await chat.say("talk to a human"))["text"] == NO_AGENTS
