"""The LLM router in the running service: webchat streaming, /metrics, /healthz."""

from __future__ import annotations

import aiohttp

from tests.fakes.llm_api import FakeLLM, Reply, answer_json
from tests.harness import WebchatClient, make_config, running_hub
from tests.providers.conftest import llm_section

ANSWER = (
    "Our stores open at nine in the morning and close at six in the evening, "
    "from Monday to Saturday, and on Sundays we open at ten."
)


async def test_webchat_streams_the_answer_then_sends_it(fake: FakeLLM) -> None:
    fake.on("gpt-4o-mini", Reply(answer_json(ANSWER)))
    async with running_hub(make_config(llm=llm_section(fake))) as service:
        async with WebchatClient.connect(service.url) as client:
            await client.send({"type": "message", "id": "q1", "text": "when are you open"})
            deltas: list[str] = []
            while True:
                frame = await client.recv(timeout=60)  # first use imports litellm
                if frame["type"] == "delta":
                    assert frame["reply_to"] == "q1"
                    deltas.append(frame["text"])
                elif frame["type"] == "message":
                    break
        assert frame["text"] == ANSWER and frame["reply_to"] == "q1"
        assert deltas and ANSWER.startswith("".join(deltas))
        assert "{" not in "".join(deltas)  # the JSON wrapper never shows
        assert fake.requests[0].stream
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{service.url}/metrics") as response:
                metrics = await response.text()
            async with http.get(f"{service.url}/healthz") as response:
                health = await response.json()
    assert 'switchboard_llm_cost_usd_total{model="openai/gpt-4o-mini",tier="cheap"}' in metrics
    assert health["components"]["llm"]["tiers"] == ["cheap", "premium"]
