"""Console fixtures: the test accounts' hashes in the environment."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.browser import chromium
from tests.console.admin import hashes


@pytest.fixture(autouse=True)
def admin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in hashes().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    async with chromium() as launched:
        yield launched
