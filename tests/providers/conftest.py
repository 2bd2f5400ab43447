"""Fixtures for the LLM router: a fake provider and a hub wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.llm_api import FakeLLM

OPENAI_KEY_ENV = "SB_TEST_OPENAI_KEY"
ANTHROPIC_KEY_ENV = "SB_TEST_ANTHROPIC_KEY"


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeLLM]:
    """The fake provider, with dummy keys in the environment."""
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test-openai")
    monkeypatch.setenv(ANTHROPIC_KEY_ENV, "sk-ant-test")
    async with FakeLLM() as llm:
        yield llm


def llm_section(fake: FakeLLM, **overrides: Any) -> dict[str, Any]:
    """[llm] with a cheap OpenAI tier and a premium Anthropic tier on the fake."""
    section: dict[str, Any] = {
        "enabled": True,
        "timeout_s": 10.0,  # generous: a loaded CI machine must not time out by accident
        "tiers": [
            {
                "name": "cheap",
                "max_score": 0.45,
                "models": [
                    {"model": "openai/gpt-4o-mini", "api_base": fake.openai_base,
                     "api_key_env": OPENAI_KEY_ENV},
                ],
            },
            {
                "name": "premium",
                "models": [
                    {"model": "anthropic/claude-sonnet-4-5", "api_base": fake.anthropic_base,
                     "api_key_env": ANTHROPIC_KEY_ENV},
                ],
            },
        ],
    }
    section.update(overrides)
    return section
