"""An FAQ entry with ``flow = "NAME"`` starts that flow instead of answering."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError
from kb.faq import parse_faq
from tests.channel_faq import CHANNEL_FAQ
from tests.fakes.shop_api import FakeShop
from tests.flows.conftest import demo_sections, shop_config
from tests.harness import WebchatClient, running_hub

TRACKING = '''
[[entries]]
id = "order-tracking"
question = "Can you track my parcel for me?"
examples = ["track my shipment", "tracking status of my delivery", "follow my package"]
flow = "order-status"
'''


async def test_an_faq_entry_starts_its_flow(shop: FakeShop, tmp_path: Path) -> None:
    faq = tmp_path / "faq.toml"
    faq.write_text(CHANNEL_FAQ + TRACKING, encoding="utf-8")
    sections = demo_sections()
    rules = [r for r in sections["rules"] if r.get("action") != "flow"]  # only the FAQ starts it
    config = shop_config(shop, {"rules": rules, "kb": {"enabled": True, "path": str(faq)}})
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
        asked = await chat.say("can you track my parcel for me?")
        assert asked["text"].startswith("What is your order number?")
        assert "is shipped" in (await chat.say("NW-10042"))["text"]
        assert (await chat.say("which payment methods do you accept?"))["text"].startswith("Cards, PayPal")


def test_an_entry_with_a_flow_needs_no_answer_but_others_do() -> None:
    faq = parse_faq(TRACKING)
    assert faq.entries[0].flow == "order-status" and faq.entries[0].answer == ""
    with pytest.raises(ConfigError, match=r"entries\[0\].answer"):
        parse_faq(TRACKING.replace('flow = "order-status"\n', ""))
