"""Crashes and deploys with real `hub run` processes on one real redis-server.

Nothing a customer sent is lost and nothing is answered twice when a process
is killed (SIGKILL) mid-load, and a SIGTERM drains within ``[cluster] drain_s``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster import RULES_TOML, HubProcess, hub_processes, start_hub, write_config
from tests.customers import Customer, outcome
from tests.fakes.llm_api import FakeLLM, Reply, answer_json
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import SIGNING_SECRET, event_callback, message_event, post_event
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_api import message as telegram_message
from tests.harness import WebchatClient

pytestmark = pytest.mark.timeout(240)


async def test_sigkill_one_of_two_mid_load_loses_nothing_and_answers_nothing_twice(
    redis_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, redis_url, RULES_TOML)
    with hub_processes() as hubs:
        hubs += [start_hub(config, tmp_path, "a"), start_hub(config, tmp_path, "b")]
        await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
        customers = [Customer(f"c{i}", hubs, home=i % 2) for i in range(40)]
        messages = [f"n{k}" for k in range(12)]
        chats = [asyncio.create_task(c.chat(messages, gap_s=0.05, timeout_s=90)) for c in customers]
        await asyncio.sleep(0.25)  # mid-load: every customer has sent a few
        hubs[0].kill()
        await asyncio.gather(*chats)
        result = outcome(customers)
        assert result.sent == 40 * 12
        assert result.lost == [], hubs[1].log()[-3000:]
        assert result.twice == []
        assert all(text == ["got it"] for c in customers for text in c.texts.values())
        health = await hubs[1].health()
        assert health["components"]["ingress"]["partitions"] == 64


def llm_toml(fake: FakeLLM) -> str:
    return f"""
[llm]
enabled = true
timeout_s = 30
cache_ttl_s = 0  # every customer asks the same question: each must reach the provider

[[llm.tiers]]
name = "cheap"

[[llm.tiers.models]]
model = "openai/gpt-4o-mini"
api_base = "{fake.openai_base}"
api_key_env = "SB_TEST_OPENAI_KEY"
"""


async def until_idle(hub: HubProcess, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while (await hub.health())["components"]["ingress"]["pending"]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def calls_in_flight(fake: FakeLLM, hubs: list[HubProcess], timeout: float = 30.0) -> None:
    """Wait until five provider calls are running at once."""
    try:
        async with asyncio.timeout(timeout):
            while fake.in_flight < 5:  # noqa: ASYNC110 (the fake counts; nothing to wait on)
                await asyncio.sleep(0.02)
    except TimeoutError:
        logs = "\n".join(hub.log()[-1500:] for hub in hubs)
        raise AssertionError(
            f"{fake.in_flight} calls in flight (peak {fake.peak_in_flight}, {fake.calls} in all)"
            f" after {timeout} s:\n{logs}"
        ) from None


@pytest.fixture
async def slow_llm() -> AsyncIterator[FakeLLM]:
    """A provider that takes 1.5 s per answer, so a kill lands while calls are in flight."""
    async with FakeLLM(delay_s=1.5) as fake:
        fake.on("gpt-4o-mini", Reply(answer_json("Our stores open at nine.")))
        yield fake


async def test_slow_llm_answers_in_flight_survive_a_kill(
    redis_url: str, tmp_path: Path, slow_llm: FakeLLM
) -> None:
    config = write_config(tmp_path, redis_url, llm_toml(slow_llm))
    env = {"SB_TEST_OPENAI_KEY": "sk-test"}
    with hub_processes() as hubs:
        hubs += [start_hub(config, tmp_path, n, env) for n in ("a", "b")]
        await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
        customers = [Customer(f"c{i}", hubs, home=i % 2) for i in range(20)]
        questions = ["when do your stores open?", "and on sundays, do your stores open?"]
        chats = [asyncio.create_task(c.chat(questions, gap_s=0.1, timeout_s=90)) for c in customers]
        await calls_in_flight(slow_llm, hubs)  # the kill lands while provider calls are running
        hubs[0].kill()
        await asyncio.gather(*chats)
        result = outcome(customers)
        assert result.sent == 40
        assert result.lost == [], hubs[1].log()[-3000:]
        assert result.twice == []
        assert all(t == ["Our stores open at nine."] for c in customers for t in c.texts.values())


async def test_sigterm_drains_in_flight_work_within_drain_s(
    redis_url: str, tmp_path: Path, slow_llm: FakeLLM
) -> None:
    slow_llm.delay_s = 3.0  # five calls must overlap however slowly the customers connect
    config = write_config(tmp_path, redis_url, llm_toml(slow_llm))
    env = {"SB_TEST_OPENAI_KEY": "sk-test"}
    with hub_processes() as hubs:
        hubs += [start_hub(config, tmp_path, n, env) for n in ("a", "b")]
        await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
        customers = [Customer(f"c{i}", hubs, home=0) for i in range(10)]
        chats = [asyncio.create_task(c.chat(["when do your stores open?"], timeout_s=60))
                 for c in customers]
        await calls_in_flight(slow_llm, hubs)
        took = await asyncio.to_thread(hubs[0].terminate, 60)
        assert hubs[0].process.returncode == 0
        drained = re.search(r"drained in ([0-9.]+) s \(all done\)", hubs[0].log())
        assert drained is not None, hubs[0].log()[-2000:]
        assert float(drained.group(1)) <= 5, f"drain took {drained.group(1)} s, drain_s = 5"
        assert took < 5 + 15, f"exit took {took:.1f} s"  # interpreter teardown on a busy box
        await asyncio.gather(*chats)
        result = outcome(customers)
        assert (result.lost, result.twice) == ([], [])


TELEGRAM_TOML = """
[channels.webchat]
enabled = true

[channels.telegram]
enabled = true
api_base = "{base}"
poll_timeout_s = 1
per_chat_per_s = 50.0
global_per_s = 1000.0
"""


async def test_one_process_polls_telegram_and_the_role_moves_when_it_dies(
    redis_url: str, tmp_path: Path
) -> None:
    async with FakeTelegram.running() as telegram:
        extra = RULES_TOML + TELEGRAM_TOML.replace("{base}", telegram.base_url)
        config = write_config(tmp_path, redis_url, extra)
        env = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN}
        with hub_processes() as hubs:
            hubs += [start_hub(config, tmp_path, n, env) for n in ("a", "b")]
            await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
            telegram.queue(telegram_message(501, "n1"))
            await telegram.wait_sent(1, timeout=20)
            for hub in hubs:  # acked everywhere: the at-least-once last hop is closed
                await until_idle(hub)
            leaders = [h for h in hubs if "telegram-poll: this process leads" in h.log()]
            assert len(leaders) == 1
            leaders[0].kill()
            telegram.queue(telegram_message(502, "n2"))
            await telegram.wait_sent(2, timeout=20)  # lease_s = 2: the other takes over
            assert telegram.texts(501) == ["got it"] and telegram.texts(502) == ["got it"]
            assert telegram.conflicts == 0  # never two getUpdates at once


async def llm_call_started(fake: FakeLLM, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while fake.in_flight < 1:  # noqa: ASYNC110 (the fake counts; nothing to wait on)
            await asyncio.sleep(0.02)


TELEGRAM_WEBHOOK_TOML = """
[channels.telegram]
enabled = true
mode = "webhook"
api_base = "{base}"
webhook_url = "http://127.0.0.1:9/telegram/webhook"
per_chat_per_s = 50.0
global_per_s = 1000.0
"""


async def test_a_telegram_update_redelivered_after_a_kill_is_answered_once(
    redis_url: str, tmp_path: Path, slow_llm: FakeLLM
) -> None:
    """Telegram redelivers an update whose webhook call it saw fail (the process died
    with it); the other process takes it, the first delivery's work is not lost."""
    async with FakeTelegram.running() as telegram:
        extra = llm_toml(slow_llm) + TELEGRAM_WEBHOOK_TOML.replace("{base}", telegram.base_url)
        config = write_config(tmp_path, redis_url, extra)
        env = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_WEBHOOK_SECRET": "s3cret",
               "SB_TEST_OPENAI_KEY": "sk-test"}
        with hub_processes() as hubs:
            hubs += [start_hub(config, tmp_path, n, env) for n in ("a", "b")]
            await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
            update = telegram.new_update(telegram_message(777, "when do your stores open?"))
            a, b = (f"{hub.url}/telegram/webhook" for hub in hubs)
            assert await telegram.post_webhook(update, secret="s3cret", url=a) == 200
            await llm_call_started(slow_llm)  # the answer is being decided...
            hubs[0].kill()  # ...when its process dies
            assert await telegram.post_webhook(update, secret="s3cret", url=b) == 200
            await telegram.wait_sent(1, timeout=60)
            await until_idle(hubs[1], timeout=30)
            assert telegram.texts(777) == ["Our stores open at nine."]


SLACK_TOML = """
[channels.slack]
enabled = true
api_base = "{api}"
"""


async def test_a_slack_event_retried_after_a_kill_is_answered_once(
    redis_url: str, tmp_path: Path, slow_llm: FakeLLM
) -> None:
    """Slack retries an event (X-Slack-Retry-Num) when the process that had it died
    before its answer; the retry and the recovered first delivery make one answer."""
    async with FakeSlack() as slack:
        extra = llm_toml(slow_llm) + SLACK_TOML.replace("{api}", slack.api_base)
        config = write_config(tmp_path, redis_url, extra)
        env = {"SLACK_BOT_TOKEN": FakeSlack.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "SB_TEST_OPENAI_KEY": "sk-test"}
        with hub_processes() as hubs:
            hubs += [start_hub(config, tmp_path, n, env) for n in ("a", "b")]
            await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
            event = event_callback(message_event("when do your stores open?", channel="D_KILL"))
            status, _ = await post_event(f"{hubs[0].url}/slack/events", event)
            assert status == 200
            await llm_call_started(slow_llm)
            hubs[0].kill()
            status, _ = await post_event(f"{hubs[1].url}/slack/events", event, retry_num=1)
            assert status == 200
            await slack.wait_for("chat.postMessage", lambda p: p.get("channel") == "D_KILL", 60)
            await until_idle(hubs[1], timeout=30)
            answers = [p for p in slack.posted if p.get("channel") == "D_KILL"]
            assert [p.get("text") for p in answers] == ["Our stores open at nine."]


AGENTS_TOML = """
[channels.slack]
enabled = true
api_base = "{api}"

[handoff]
agents_channel = "C_AGENTS"
"""


async def test_an_agents_thread_reply_is_relayed_once_across_a_kill(
    redis_url: str, tmp_path: Path
) -> None:
    """The process that acked an agent's reply dies at once; Slack retries it to the
    other process. The customer gets the reply once, whichever process relays it."""
    async with FakeSlack() as slack:
        slack.members["C_AGENTS"] = ["U_AGENT"]
        config = write_config(tmp_path, redis_url, RULES_TOML + AGENTS_TOML.replace("{api}", slack.api_base))
        env = {"SLACK_BOT_TOKEN": FakeSlack.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
        with hub_processes() as hubs:
            hubs += [start_hub(config, tmp_path, n, env) for n in ("a", "b")]
            await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
            async with WebchatClient.connect(hubs[1].url) as chat:
                await chat.say("talk to a person")
                await slack.wait_for(
                    "chat.postMessage", lambda p: p.get("channel") == "C_AGENTS" and "blocks" in p, 30
                )
                ts = next(m["ts"] for m in slack.messages["C_AGENTS"] if m.get("blocks"))
                reply = slack.add_message("C_AGENTS", {"user": "U_AGENT", "text": "On it.", "thread_ts": ts})
                event = event_callback(message_event(
                    "On it.", channel="C_AGENTS", user="U_AGENT", thread_ts=ts, ts=reply["ts"]
                ))
                status, _ = await post_event(f"{hubs[0].url}/slack/events", event)
                assert status == 200  # durable from here on...
                hubs[0].kill()  # ...though its process dies at once
                status, _ = await post_event(f"{hubs[1].url}/slack/events", event, retry_num=1)
                assert status == 200
                relayed = await chat.expect("message", timeout=30, **{"from": "agent"})
                assert relayed["text"] == "On it."
                assert await chat.silence(3.0) == []  # past a takeover (lease_s = 2): once
