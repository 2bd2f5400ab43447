"""Shared fixtures: a real redis-server, configs built in memory, a running hub."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from collections.abc import AsyncIterator, Iterator  # noqa: E402

import pytest  # noqa: E402

from hub.store import MemoryStore, Store  # noqa: E402
from tests.harness import RedisServer, start_redis  # noqa: E402


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free port for the whole test session."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database on the session's redis-server."""
    redis_server.flushall()
    return redis_server.url


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Every store implementation, for contract tests."""
    if request.param == "memory":
        yield MemoryStore()
        return
    from hub.store.redis import RedisStore

    url = request.getfixturevalue("redis_url")
    redis_store = RedisStore.from_url(url)
    try:
        yield redis_store
    finally:
        await redis_store.close()
