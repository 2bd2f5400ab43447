"""Console fixtures: the test accounts' hashes in the environment."""

from __future__ import annotations

import pytest

from tests.console.admin import hashes


@pytest.fixture(autouse=True)
def admin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in hashes().items():
        monkeypatch.setenv(name, value)
