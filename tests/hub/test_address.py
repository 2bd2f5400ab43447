"""Channel addresses: ``<channel>:<conversation id>``, built and parsed by one type."""

from __future__ import annotations

import pytest

from hub.conversation import Conversation
from hub.envelope import Address, InboundMessage, OutboundMessage
from hub.errors import AddressError, HubError


def test_an_address_prints_as_channel_colon_conversation() -> None:
    assert str(Address("webchat", "abc")) == "webchat:abc"
    assert str(Address("telegram", "42")) == "telegram:42"
    assert str(Address("slack", "C123")) == "slack:C123"


def test_parse_splits_at_the_first_colon_only() -> None:
    assert Address.parse("telegram:-100200") == Address("telegram", "-100200")
    thread = Address.parse("slack:C123:1700000000.000100")  # a Slack thread conversation
    assert (thread.channel, thread.conversation_id) == ("slack", "C123:1700000000.000100")


@pytest.mark.parametrize(
    "text", ["webchat:abc", "telegram:42", "slack:C123", "slack:C123:1700.01", "cli:a:b:c"]
)
def test_parse_and_str_round_trip(text: str) -> None:
    assert str(Address.parse(text)) == text


@pytest.mark.parametrize("text", ["", "webchat", ":abc", "webchat:", ":"])
def test_a_malformed_address_is_an_address_error(text: str) -> None:
    with pytest.raises(AddressError) as raised:
        Address.parse(text)
    assert isinstance(raised.value, HubError)


@pytest.mark.parametrize(("channel", "conversation_id"), [("", "abc"), ("web:chat", "abc"), ("webchat", "")])
def test_an_address_is_not_built_from_bad_parts(channel: str, conversation_id: str) -> None:
    with pytest.raises(AddressError):
        Address(channel, conversation_id)


def test_envelopes_and_conversations_agree_with_address() -> None:
    inbound = InboundMessage(
        channel="slack", conversation_id="C123:1700.01", user_id="U1", message_id="m1", text="hi"
    )
    assert inbound.address == "slack:C123:1700.01"
    assert OutboundMessage.reply(inbound, "hello").address == inbound.address
    conversation = Conversation.start(inbound)
    assert conversation.address == inbound.address
    assert conversation.conversation_id == "C123:1700.01"
