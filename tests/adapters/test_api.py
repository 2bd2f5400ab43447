"""The server API against a running hub: answers, transcripts, retries, bad input."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.adapters.api_client import (
    API_KEY,
    ApiClient,
    api_config,
    set_api_secrets,
)
from tests.harness import running_hub


@pytest.fixture(autouse=True)
def api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_api_secrets(monkeypatch)


async def test_a_message_gets_the_decisions_reply_and_the_transcript_has_both() -> None:
    async with running_hub(api_config()) as service, ApiClient.connect(service.url) as api:
        answer = await api.say("order-42", "hello", id="m1", user={"id": "u7", "name": "Ada"})
        assert answer["status"] == "done"
        assert answer["conversation_id"] == "order-42" and answer["message_id"] == "m1"
        assert answer["stage"] == "rules" and "greeting" in answer["reason"]
        assert answer["text"] == "Hello! How can I help?"
        assert answer["buttons"] == [{"label": "Returns", "value": "How do I return an item?"}]
        [reply] = answer["replies"]
        assert reply["from"] == "bot" and reply["id"] and reply["stage"] == "rules"

        status, conversation = await api.get("order-42")
        assert status == 200 and conversation["status"] == "bot"
        lines = [(e["from"], e["text"], e["reply_to"]) for e in conversation["transcript"]]
        assert lines == [("customer", "hello", None), ("bot", "Hello! How can I help?", "m1")]
        assert conversation["transcript"][0]["id"] == "m1"
        assert conversation["transcript"][1]["id"] == reply["id"]


async def test_a_message_no_rule_knows_still_gets_an_answer() -> None:
    async with running_hub(api_config()) as service, ApiClient.connect(service.url) as api:
        answer = await api.say("c1", "what is the meaning of life")
        assert answer["status"] == "done" and answer["replies"] and answer["stage"]
        assert answer["message_id"]  # generated when the client gives none


async def test_a_retry_with_the_same_id_gets_the_same_reply_not_a_second_decision() -> None:
    async with running_hub(api_config()) as service, ApiClient.connect(service.url) as api:
        first, again, concurrent = await asyncio.gather(
            api.say("c2", "hello", id="same"), api.say("c2", "hello", id="same"),
            api.say("c2", "hello", id="same"))
        later = await api.say("c2", "hello", id="same")
        ids = {a["replies"][0]["id"] for a in (first, again, concurrent, later)}
        assert len(ids) == 1
        _, conversation = await api.get("c2")
        assert [e["from"] for e in conversation["transcript"]] == ["customer", "bot"]
        metrics = await _metrics(service.url)
        assert 'switchboard_messages_in_total{channel="api"} 1.0' in metrics


async def test_the_static_api_key_is_accepted() -> None:
    async with running_hub(api_config()) as service:
        async with ApiClient.connect(service.url, bearer=API_KEY) as api:
            assert (await api.say("c3", "hello"))["text"] == "Hello! How can I help?"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "invalid_json"),
        ("[1, 2]", 400, "invalid_json"),
        ('{"text": "   "}', 400, "empty_text"),
        ('{"text": 12}', 400, "invalid_body"),
        ('{"text": "hi", "colour": "red"}', 400, "invalid_body"),
        ('{"text": "hi", "id": "no spaces allowed"}', 400, "invalid_body"),
        ('{"text": "' + "x" * 101 + '"}', 413, "text_too_long"),
        ('{"text": "' + "x" * 5000 + '"}', 413, "body_too_large"),
        ('{"text": "hi", "webhook_url": "ftp://example.invalid/x"}', 400, "invalid_webhook_url"),
        ("[" * 5000 + "]" * 5000, 413, "body_too_large"),
    ],
)
async def test_bad_requests_get_a_clear_json_error_and_the_hub_keeps_serving(
    body: str, status: int, code: str
) -> None:
    async with running_hub(api_config(max_chars=100)) as service, ApiClient.connect(service.url) as api:
        got, error = await api.post("c4", body)
        assert (got, error["error"]["code"]) == (status, code), error
        assert error["error"]["message"]
        assert (await api.say("c4", "hello"))["text"] == "Hello! How can I help?"


async def test_bad_conversation_ids_unknown_conversations_and_methods() -> None:
    async with running_hub(api_config()) as service, ApiClient.connect(service.url) as api:
        status, error = await api.post("has%20space", {"text": "hello"})
        assert (status, error["error"]["code"]) == (400, "invalid_conversation_id")
        status, error = await api.get("nobody-here")
        assert (status, error["error"]["code"]) == (404, "not_found")
        async with api.http.delete(f"{service.url}/api/v1/conversations/x",
                                   headers=api.headers()) as response:
            assert response.status == 405 and response.headers["Allow"] == "GET"
            assert (await response.json())["error"]["code"] == "method_not_allowed"
        async with api.http.get(f"{service.url}/api/v1/nothing") as response:
            assert response.status == 404 and (await response.json())["error"]["code"] == "not_found"


async def test_the_openapi_document_is_served_without_credentials() -> None:
    async with running_hub(api_config(max_chars=321)) as service, aiohttp.ClientSession() as http:
        async with http.get(f"{service.url}/api/v1/openapi.json") as response:
            document = await response.json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/api/v1/conversations/{id}/messages",
                                      "/api/v1/conversations/{id}"}
    text = document["components"]["schemas"]["MessageRequest"]["properties"]["text"]
    assert text["maxLength"] == 321


async def _metrics(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        return await response.text()
