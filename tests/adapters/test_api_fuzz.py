"""The server API fuzzed with schemathesis against its own OpenAPI document.

The hub runs in a thread with its own event loop (schemathesis's client is
synchronous), on 127.0.0.1; each operation gets a bounded number of positive and
negative examples, so the run stays well under 30 s. The checks: no 5xx, only
documented status codes and content types, responses that match their schemas,
and invalid input refused with a 4xx.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.adapters.api_client import (
    API_KEY,
    api_config,
    set_api_secrets,
)
from tests.harness import running_hub

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def live_api() -> Iterator[str]:
    """A running hub with the API on, in a thread; yields its base URL."""
    patch = pytest.MonkeyPatch()
    set_api_secrets(patch)
    started = threading.Event()
    url: list[str] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with running_hub(api_config(max_chars=200, reply_timeout_s=5)) as service:
            url.append(service.url)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30), "the hub did not start"
    try:
        yield url[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
        patch.undo()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_conforms_to_its_openapi_document(live_api: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api}/api/v1/openapi.json")
    auth = {"Authorization": f"Bearer {API_KEY}"}
    checks = CHECKS if mode is GenerationMode.POSITIVE else [*CHECKS, negative_data_rejection]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/api/v1/conversations/{id}/messages",
                                              "/api/v1/conversations/{id}"}
    for operation in operations:

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=live_api, headers=auth, checks=checks, timeout=10)

        conforms()
