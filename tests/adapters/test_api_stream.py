"""The streaming variant: Server-Sent Events with the LLM's deltas, the reply, then done."""

from __future__ import annotations

import pytest

from tests.adapters.api_client import (
    ApiClient,
    api_config,
    set_api_secrets,
)
from tests.fakes.llm_api import FakeLLM, Reply, answer_json
from tests.harness import running_hub
from tests.providers.conftest import fake, llm_section  # noqa: F401

ANSWER = (
    "Our stores open at nine in the morning and close at six in the evening, "
    "from Monday to Saturday, and on Sundays we open at ten."
)


@pytest.fixture(autouse=True)
def api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_api_secrets(monkeypatch)


async def test_the_llm_answer_streams_as_deltas_then_the_message_then_done(
    fake: FakeLLM,  # noqa: F811
) -> None:
    fake.on("gpt-4o-mini", Reply(answer_json(ANSWER)))
    config = api_config({"llm": llm_section(fake)}, reply_timeout_s=60)  # first use imports litellm
    async with running_hub(config) as service, ApiClient.connect(service.url) as api:
        events = await api.stream("s1", "when are you open", id="q1")
        kinds = [kind for kind, _ in events]
        assert kinds[-2:] == ["message", "done"] and kinds.count("delta") >= 1
        assert set(kinds[:-2]) == {"delta"}  # deltas come before the message
        deltas = "".join(data["text"] for kind, data in events if kind == "delta")
        assert deltas and ANSWER.startswith(deltas) and "{" not in deltas
        message, done = events[-2][1], events[-1][1]
        assert message["text"] == ANSWER and message["stage"] == "llm"
        assert done["status"] == "done" and done["message_id"] == "q1" and done["stage"] == "llm"
        assert fake.requests[0].stream

        again = await api.stream("s1", "when are you open", id="q1")  # a retry: no new decision
        assert [kind for kind, _ in again] == ["done"]
        assert again[0][1]["replies"][0]["id"] == message["id"] and len(fake.requests) == 1


async def test_stream_true_in_the_query_also_streams() -> None:
    async with running_hub(api_config()) as service, ApiClient.connect(service.url) as api:
        url = f"{service.url}/api/v1/conversations/s2/messages?stream=true"
        async with api.http.post(url, json={"text": "hello"}, headers=api.headers()) as response:
            assert response.content_type == "text/event-stream"
            body = await response.text()
        assert body.index("event: message") < body.index("event: done")
        assert "Hello! How can I help?" in body
