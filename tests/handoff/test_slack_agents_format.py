"""The agents channel's Block Kit and text conversions, without a network."""

from __future__ import annotations

from adapters.slack.agents import escalation_blocks, plain_text
from hub.conversation import TranscriptEntry
from hub.handoff import Escalation

ESCALATION = Escalation(
    conversation_id="conv1", address="webchat:s1", channel="webchat", customer="Robin <admin>",
    reason="customer asked for a person", thread="1.2", board_channel="C_AGENTS",
)


def entry(sender: str, text: str) -> TranscriptEntry:
    return TranscriptEntry(id=text, sender=sender, text=text, timestamp=1.0)  # type: ignore[arg-type]


def test_waiting_escalation_shows_who_why_transcript_and_buttons() -> None:
    blocks = escalation_blocks(ESCALATION, [entry("customer", "a < b & c"), entry("bot", "Hm?")])
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Robin <admin> on webchat needs a person"}
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert "*Reason:* customer asked for a person" in texts
    assert "*Robin &lt;admin&gt;:* a &lt; b &amp; c\n*bot:* Hm?" in texts
    actions = blocks[-1]["elements"]
    assert [(a["action_id"], a["value"]) for a in actions] == [
        ("handoff_claim", "conv1"), ("handoff_resolve", "conv1"), ("handoff_return", "conv1"),
    ]


def test_closed_escalation_has_no_buttons_and_says_who_closed_it() -> None:
    closed = ESCALATION.evolve(status="resolved", closed_by="Alex", agent_name="Alex")
    blocks = escalation_blocks(closed)
    assert all(b["type"] != "actions" for b in blocks)
    assert any("Resolved by Alex" in str(b) for b in blocks)


def test_agent_mrkdwn_becomes_plain_text() -> None:
    assert plain_text("See <https://x.example/faq|the FAQ> &amp; <https://y.example>") == (
        "See the FAQ (https://x.example/faq) & https://y.example"
    )
    assert plain_text("thanks <@U123>, 1 &lt; 2") == "thanks @U123, 1 < 2"
