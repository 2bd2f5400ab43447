"""[privacy] retention_days deletes old conversations entirely; the privacy CLI."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from feedback import Rating
from hub.cli import main
from hub.config import Config
from hub.conversation import Conversation, TranscriptEntry
from hub.envelope import InboundMessage
from hub.store import Keys, Store
from hub.store.redis import RedisStore
from privacy import RetentionSweeper, sweep

DAY = 86_400.0


async def conversation(store: Store, user: str, last: float) -> Conversation:
    message = InboundMessage(channel="webchat", conversation_id=f"s-{user}", user_id=user,
                             message_id=f"m-{user}", text="hello")
    conv = replace(Conversation.start(message), created_at=last - 60)
    await store.save_conversation(conv)
    await store.append(conv.id, TranscriptEntry("e1", "customer", "hello", last), max_len=10)
    await store.add_rating(Rating(conv.id, conv.address, 0, "thumbs", 1, at=last))
    await store.set(Keys.escalation(conv.id), {"conversation_id": conv.id})
    return conv


async def test_sweep_deletes_conversations_past_retention(store: Store) -> None:
    now = time.time()
    old = await conversation(store, "old", now - 31 * DAY)
    fresh = await conversation(store, "fresh", now - 29 * DAY)
    config = Config.from_mapping({"privacy": {"retention_days": 30}})
    assert await sweep(store, config, now=now) == [old.id]
    assert await store.get_conversation(old.id) is None
    assert await store.conversation_summary(old.id) is None
    assert await store.ratings(old.id) == [] and await store.get(Keys.escalation(old.id)) is None
    assert await store.customer_conversations("webchat", "old") == []
    assert await store.get_conversation(fresh.id) is not None
    assert await sweep(store, Config(), now=now + 100 * DAY) == []  # no retention: kept


async def test_the_sweeper_runs_at_start(store: Store) -> None:
    old = await conversation(store, "old", time.time() - 3 * DAY)
    config = Config.from_mapping({"privacy": {"retention_days": 1}})
    sweeper = RetentionSweeper(store, lambda: config)
    async with sweeper.running():
        await asyncio.wait_for(sweeper.swept.wait(), timeout=20)
    assert await store.get_conversation(old.id) is None


@pytest.fixture
def redis_config(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\nurl = "{redis_url}"\n', encoding="utf-8")
    return path


async def test_cli_export_and_forget(
    redis_config: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = RedisStore.from_url(redis_url)
    try:
        conv = await conversation(store, "u-42", time.time())
    finally:
        await store.close()
    args = ["--config", str(redis_config), "--channel", "webchat", "--user", "u-42"]

    assert await asyncio.to_thread(main, ["privacy", "export", *args]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in exported["conversations"]] == [conv.id]
    assert exported["conversations"][0]["transcript"][0]["text"] == "hello"

    assert await asyncio.to_thread(main, ["privacy", "forget", *args, "--actor", "ana"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["conversations"], report["ratings"], report["escalations"]) == (1, 1, 1)

    assert await asyncio.to_thread(main, ["privacy", "export", *args]) == 0
    assert json.loads(capsys.readouterr().out)["conversations"] == []
    store = RedisStore.from_url(redis_url)
    try:
        [audit] = await store.audit_log()
    finally:
        await store.close()
    assert (audit.actor, audit.action) == ("ana", "privacy.forget") and "u-42" not in audit.detail
