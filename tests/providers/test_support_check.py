"""The support check: an answer whose claims the passages do not hold is not sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.config import Config
from hub.envelope import Source
from hub.stages import Candidate
from providers.selfcheck import unsupported
from tests.fakes.llm_api import FakeLLM, Reply, answer_json
from tests.harness import make_config
from tests.providers.conftest import llm_section
from tests.providers.test_llm_stage import CHEAP, PREMIUM, Bench

BREAK_IN = Candidate(
    "1", "Hiking boots: fit and breaking in › Breaking them in",
    "Leather boots need about 20 to 30 kilometres of easy walking before a long hike. "
    "Wear them at home and on short walks first.", 0.4,
    source=Source("Hiking boots: fit and breaking in", "https://help.example/boots#breaking-them-in", 1),
)
SUPPORTED = "Leather boots need 20 to 30 kilometres of easy walking first [1]. Hope this helps!"
INVENTED = "We replace boots for free within 90 days if they hurt [1]. Bring the receipt to any store."
QUESTION = "how long to break in leather boots"


def test_sentences_must_find_their_words_and_numbers_in_the_passages() -> None:
    passages = [f"{BREAK_IN.question}\n{BREAK_IN.answer}"]
    assert unsupported(SUPPORTED, passages) is None
    assert unsupported("Basically, wear them at home and on short walks [1].", passages) is None
    assert unsupported(INVENTED, passages) == "2 of 2 sentences not in the passages"
    # every word is there, but the number is not: a wrong figure is a claim of its own
    assert unsupported("Leather boots need about 50 kilometres of easy walking.", passages) is not None
    assert unsupported("Yes, you can. Thanks for asking!", passages) is None  # claims nothing


def config_for(fake: FakeLLM, **sections: Any) -> Config:
    return make_config(llm=llm_section(fake), **sections)


@pytest.fixture
async def unstaffed(fake: FakeLLM) -> AsyncIterator[Bench]:
    bench = Bench(config_for(fake, messages={"contact": "help@shop.example"}), BREAK_IN)
    yield bench
    await bench.hub.close()


async def test_a_supported_answer_is_sent_with_its_source(fake: FakeLLM, unstaffed: Bench) -> None:
    fake.on(CHEAP, Reply(answer_json(SUPPORTED, sources=["1"])))
    decision = await unstaffed.ask(QUESTION)
    assert decision.stage == "llm" and decision.helped
    assert decision.sources == (BREAK_IN.source,)


async def test_an_unsupported_answer_escalates_then_says_it_does_not_know(
    fake: FakeLLM, unstaffed: Bench
) -> None:
    fake.on(CHEAP, Reply(answer_json(INVENTED, sources=["1"])))
    fake.on(PREMIUM, Reply(answer_json(INVENTED, sources=["1"])))
    decision = await unstaffed.ask(QUESTION)
    assert [r.model for r in fake.requests] == [CHEAP, PREMIUM]  # escalated once, like any rejection
    assert decision.text == (
        "I don't know the answer to that, and I'd rather not guess. "
        "You can reach our team at help@shop.example."
    )
    assert "90 days" not in decision.text and decision.sources == ()
    assert decision.handoff is None and not decision.helped
    assert decision.details["failures"] == [
        "cheap: 2 of 2 sentences not in the passages", "premium: 2 of 2 sentences not in the passages",
    ]


async def test_the_better_tier_can_still_answer_from_the_passages(
    fake: FakeLLM, unstaffed: Bench
) -> None:
    fake.on(CHEAP, Reply(answer_json(INVENTED, sources=["1"])))
    fake.on(PREMIUM, Reply(answer_json(SUPPORTED, sources=["1"])))
    decision = await unstaffed.ask(QUESTION)
    assert decision.helped and decision.details["tier"] == "premium"
    assert decision.text.startswith("Leather boots need 20 to 30 kilometres")


async def test_with_agents_an_unsupported_answer_goes_to_a_person(fake: FakeLLM) -> None:
    config = config_for(
        fake, handoff={"agents_channel": "C0AGENTS"},
        channels={"slack": {"enabled": True, "bot_token_env": "SB_TEST_SLACK", "channels": []}},
    )
    bench = Bench(config, BREAK_IN)
    try:
        fake.on(CHEAP, Reply(answer_json(INVENTED, sources=["1"])))
        fake.on(PREMIUM, Reply(answer_json(INVENTED, sources=["1"])))
        decision = await bench.ask(QUESTION)
    finally:
        await bench.hub.close()
    assert decision.handoff is not None and "not in the passages" in decision.handoff.reason
    assert decision.text == config.messages.llm_failed


async def test_faq_grounding_alone_is_not_support_checked(fake: FakeLLM) -> None:
    faq = Candidate("refunds", "How long do refunds take?", "Refunds take 5 working days.", 0.4)
    bench = Bench(config_for(fake), faq)
    try:
        fake.on(CHEAP, Reply(answer_json("Your money is back within a working week.", sources=["refunds"])))
        decision = await bench.ask("how long do refunds take")
    finally:
        await bench.hub.close()
    assert decision.helped and decision.text == "Your money is back within a working week."
