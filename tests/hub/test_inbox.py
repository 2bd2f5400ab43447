"""The hub keeps the conversation index and masks transcripts when asked."""

from __future__ import annotations

from hub.store import MemoryStore
from tests.harness import WebchatClient, make_config, running_hub

RULES = [{"name": "echo", "keywords": ["card"], "action": "reply", "text": "Noted, mail me at a@b.example"}]
CARD = "4111 1111 1111 1111"


async def test_masked_transcripts_store_no_personal_data() -> None:
    config = make_config({"rules": RULES, "privacy": {"mask_transcripts": True}})
    store = MemoryStore()
    async with running_hub(config, store=store) as service, WebchatClient.connect(service.url) as chat:
        reply = await chat.say(f"my card is {CARD}, mail jane@example.com")
        assert reply["text"] == "Noted, mail me at a@b.example"  # the customer sees it all
        [summary] = await store.list_conversations()
        lines = [e.text for e in await store.transcript(summary.id)]
    assert lines == ["my card is [card], mail [email]", "Noted, mail me at [email]"]
    assert summary.last_text == "Noted, mail me at [email]" and summary.messages == 2


async def test_unmasked_transcripts_keep_the_text_but_the_preview_is_masked() -> None:
    config = make_config({"rules": RULES})
    store = MemoryStore()
    async with running_hub(config, store=store) as service, WebchatClient.connect(service.url) as chat:
        await chat.say(f"my card is {CARD}")
        [summary] = await store.list_conversations()
        lines = [e.text for e in await store.transcript(summary.id)]
    assert lines[0] == f"my card is {CARD}"
    assert summary.last_text == "Noted, mail me at [email]"
