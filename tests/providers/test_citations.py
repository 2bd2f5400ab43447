"""Citations become links: only what the reply cites, per channel, through the running hub."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.blocks import to_platform as slack_calls
from adapters.telegram.convert import to_platform as telegram_calls
from adapters.webchat.adapter import to_frame
from hub.envelope import OutboundMessage, Source, message_from_json, message_to_json, with_sources
from hub.stages import Candidate
from providers import LLMStage
from providers.citations import cite
from tests.fakes.llm_api import FakeLLM, Reply, answer_json, prompt_text
from tests.harness import WebchatClient, make_config, running_hub
from tests.providers.conftest import llm_section

REPO = Path(__file__).resolve().parents[2]
BOOTS = Source("Hiking boots: fit & breaking in", "https://help.example/boot-fitting#breaking-them-in", 1)
RENTAL = Source("Renting <tents>", "https://help.example/rental#prices?a=1&b=2", 2)


def passage(source: Source, text: str = "...") -> Candidate:
    return Candidate(str(source.number), source.title, text, 0.5, source=source)


def test_only_cited_sources_are_listed_and_numbers_out_of_range_are_dropped() -> None:
    grounding = [passage(BOOTS), passage(RENTAL), Candidate("returns", "Q", "A", 0.3)]
    text, sources = cite("Walk 20 km in them [2][1]. Soles last years [7].", grounding)
    assert sources == (RENTAL, BOOTS)  # in the order first cited
    assert text == with_sources("Walk 20 km in them [2][1]. Soles last years.", sources)
    assert text.endswith(f"Sources: [2] {RENTAL.title} {RENTAL.url}; [1] {BOOTS.title} {BOOTS.url}")
    plain, none = cite("Refunds take 5 days [returns] [3].", grounding)
    assert none == () and plain == "Refunds take 5 days [returns]."  # FAQ ids are no links


def reply(text: str, sources: tuple[Source, ...]) -> OutboundMessage:
    return OutboundMessage("webchat", "s1", with_sources(text, sources), sources=sources)


def test_the_envelope_keeps_its_sources_through_the_outbox_json() -> None:
    message = reply("Walk in them [1].", (BOOTS,))
    again = message_from_json(OutboundMessage, message_to_json(message))
    assert again == message and again.body == "Walk in them [1]."


def test_webchat_frames_carry_sources_and_text_that_stands_alone() -> None:
    frame = to_frame(reply("Walk in them [1].", (BOOTS,)))
    assert frame["sources"] == [{"n": 1, "title": BOOTS.title, "url": BOOTS.url}]
    assert frame["text"].split("\n\n")[-1] == f"Sources: [1] {BOOTS.title} {BOOTS.url}"
    assert "sources" not in to_frame(OutboundMessage("webchat", "s1", "Hi"))


def test_slack_renders_mrkdwn_links_with_the_text_escaped() -> None:
    (call,) = slack_calls(OutboundMessage("slack", "D1", "x", sources=()))
    assert call["text"] == "x"
    (call,) = slack_calls(reply("Sizes <S & M> [1] [2].", (BOOTS, RENTAL)))
    section = call["blocks"][0]["text"]["text"]
    assert section == (
        "Sizes &lt;S &amp; M&gt; [1] [2].\n\nSources: "
        "<https://help.example/boot-fitting#breaking-them-in|[1] Hiking boots: fit &amp; breaking in>, "
        "<https://help.example/rental#prices?a=1&amp;b=2|[2] Renting &lt;tents&gt;>"
    )


def test_telegram_renders_escaped_html_links() -> None:
    message = reply("Sizes <S & M> [1].", (RENTAL,))
    (call,) = telegram_calls(OutboundMessage("telegram", "42", message.text, sources=message.sources))
    assert call.parse_mode == "HTML"
    assert call.text == (
        "Sizes &lt;S &amp; M&gt; [1].\n\nSources: "
        '<a href="https://help.example/rental#prices?a=1&amp;b=2">[2] Renting &lt;tents&gt;</a>'
    )
    read_more = Source("Boots", "javascript:alert(1)")  # not a web address: no link
    (call,) = telegram_calls(OutboundMessage(
        "telegram", "42", with_sources("Walk.", (read_more,)), sources=(read_more,)))
    assert call.text == "Walk.\n\nRead more: Boots"
    (plain,) = telegram_calls(OutboundMessage("telegram", "42", "a < b"))
    assert plain.parse_mode is None and plain.text == "a < b"


def test_a_long_telegram_answer_sends_its_links_last() -> None:
    body = "word " * 1000  # over 4,096 characters once the links are added
    parts = telegram_calls(OutboundMessage("telegram", "42", with_sources(body, (BOOTS,)), sources=(BOOTS,)))
    assert [p.parse_mode for p in parts] == [None, None, "HTML"]
    assert parts[-1].text.startswith('Sources: <a href="https://help.example/boot-fitting')


@pytest.fixture
def help_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "help"
    shutil.copytree(REPO / "kb" / "help", folder)
    return folder


def citing(body: dict[str, Any]) -> str:
    """A model that answers from reference [1], cites it, and cites a [9] that does not exist."""
    prompt = prompt_text(body)
    first = re.search(r"^\[1\] Q: (.*?) A: (.*)$", prompt, re.MULTILINE)
    assert first is not None, "no numbered passage in the prompt"
    sentence = first.group(2).split(". ")[0].rstrip(".")
    return answer_json(f"{sentence} [1]. See also [9].", sources=["1"])


async def test_an_llm_answer_from_articles_cites_them_as_links(fake: FakeLLM, help_dir: Path) -> None:
    fake.on("gpt-4o-mini", Reply(citing))
    kb = {"enabled": True, "path": str(REPO / "kb" / "faq.toml"), "threshold": 0.99,
          "documents": [str(help_dir / "*.md")], "documents_base_url": "https://help.example/articles",
          "documents_threshold": 0.99}
    async with running_hub(make_config(kb=kb, llm=llm_section(fake))) as service, \
            WebchatClient.connect(service.url) as chat:
        stage = next(s for s in service.hub.chain.stages if isinstance(s, LLMStage))
        await stage.router_for(service.config.llm)  # litellm loads in the background
        await chat.send({"type": "message", "id": "q", "text": "how long does it take to break in boots?"})
        frame = await chat.expect("message", timeout=30, reply_to="q")
    assert "cite each one you use" in fake.requests[-1].prompt
    assert [s["n"] for s in frame["sources"]] == [1]  # [9] names no passage: dropped
    (source,) = frame["sources"]
    assert source["url"].startswith("https://help.example/articles/")
    body, line = frame["text"].rsplit("\n\n", 1)
    assert body.endswith("[1]. See also.") and "[9]" not in frame["text"]
    assert line == f"Sources: [1] {source['title']} {source['url']}"
