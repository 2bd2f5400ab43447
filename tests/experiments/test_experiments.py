"""Experiments: sticky split, per-turn overrides, per-variant counters, the report."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from experiments import assign, report, wilson
from hub.config import Config
from hub.envelope import InboundMessage
from hub.errors import ConfigError
from hub.store import MemoryStore
from tests.channel_faq import write_channel_faq
from tests.fakes.channel import RecordingChannel
from tests.harness import make_config, running_hub

CUSTOMERS = 400
ROOT = Path(__file__).resolve().parents[2]


def experiment(*weights: float, **overrides: Any) -> dict[str, Any]:
    names = "ABCDE"
    variants = [{"name": names[i], "weight": w} for i, w in enumerate(weights)]
    if overrides:
        variants[-1]["overrides"] = {k.replace("__", "."): v for k, v in overrides.items()}
    return {"name": "kb-threshold", "metric": "deflection", "variants": variants}


def within(count: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    """``count`` of ``n`` is within ``sigmas`` binomial standard deviations of n*p."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("weights", [(50, 50), (95, 5), (60, 20, 20)])
def test_400_customers_split_as_configured_and_stay_put(weights: tuple[float, ...]) -> None:
    config = Config.from_mapping({"experiments": [experiment(*weights)]})
    [exp] = config.experiments
    split = Counter(assign(exp, "webchat", f"customer-{n}") for n in range(CUSTOMERS))
    total = sum(weights)
    for variant, weight in zip(exp.variants, weights, strict=True):
        assert within(split[variant.name], CUSTOMERS, weight / total), split
    # sticky across processes: another interpreter, with another hash seed, assigns the same
    here = [assign(exp, "webchat", f"customer-{n}") for n in range(50)]
    assert here == assignments_in_another_process(weights)


def assignments_in_another_process(weights: tuple[float, ...]) -> list[str]:
    script = (
        "import json, sys\n"
        "from experiments import assign\n"
        "from hub.config import Config\n"
        "from tests.experiments.test_experiments import experiment\n"
        "[exp] = Config.from_mapping({'experiments': [experiment(*json.loads(sys.argv[1]))]}).experiments\n"
        "print(json.dumps([assign(exp, 'webchat', f'customer-{n}') for n in range(50)]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(weights)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True, timeout=120)
    return list(json.loads(done.stdout))


def test_overrides_are_whitelisted_and_checked_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"cannot override 'kb.candidates'"):
        Config.from_mapping({"experiments": [experiment(50, 50, kb__candidates=5)]})
    with pytest.raises(ConfigError, match=r"experiments\[0\]\.variants\[1\]\.overrides: \"kb.threshold\""):
        Config.from_mapping({"experiments": [experiment(50, 50, kb__threshold=1.5)]})
    with pytest.raises(ConfigError, match="duplicate experiment names"):
        Config.from_mapping({"experiments": [experiment(50, 50), experiment(1, 1)]})
    with pytest.raises(ConfigError, match="at least 2"):
        Config.from_mapping({"experiments": [experiment(100)]})
    ok = Config.from_mapping({"experiments": [experiment(
        50, 50, kb__threshold=0.4, llm__system_prompt="Be terse.",
        handoff__request_phrases=["human please"],
    )]})
    assert ok.experiments[0].variants[1].overrides["kb.threshold"] == 0.4


def test_wilson_interval() -> None:
    low, high = wilson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(0, 50)
    assert low == pytest.approx(0.0, abs=1e-12) and 0.07 < high < 0.072


def sim_config(tmp_path: Path, **overrides: Any) -> Config:
    faq = write_channel_faq(tmp_path)
    return make_config(
        kb={"enabled": True, "path": str(faq)},
        experiments=[experiment(50, 50, **overrides)],
        channels={"webchat": {"enabled": False}},
    )


async def simulate(config: Config, store: MemoryStore, question: str) -> RecordingChannel:
    """CUSTOMERS customers on a recording channel, one question each."""
    channel = RecordingChannel("test")
    async with running_hub(config, store=store) as service:
        service.hub.register(channel)
        for n in range(CUSTOMERS):
            await service.hub.submit(InboundMessage(
                channel="test", conversation_id=f"chat-{n}", user_id=f"customer-{n}",
                message_id=f"m-{n}", text=question,
            ))
        await service.hub.drain()
        # Every tenth customer rates the answer down, if it offered thumbs.
        for n, sent in enumerate(channel.sent[::10]):
            down = [b for b in sent.buttons if b.value.startswith("rate:thumbs:-1:")]
            if down:
                await service.hub.submit(InboundMessage(
                    channel="test", conversation_id=sent.conversation_id,
                    user_id=sent.conversation_id.replace("chat", "customer"),
                    message_id=f"r-{n}", text=down[0].value,
                ))
        await service.hub.drain()
    return channel


async def test_a_stricter_threshold_deflects_less_and_the_report_says_so(tmp_path: Path) -> None:
    store = MemoryStore()
    config = sim_config(tmp_path, kb__threshold=0.999)  # B: the FAQ never answers
    channel = await simulate(config, store, "can I pay with paypal")
    [exp] = await report(store, config)
    a, b = exp.variants
    assert a.conversations + b.conversations == CUSTOMERS
    assert within(a.conversations, CUSTOMERS, 0.5)
    assert a.deflection.value == 1.0 and b.deflection.value == 0.0
    assert a.deflection.low > b.deflection.high
    assert exp.verdict == "B worse than A on deflection"
    assert a.thumbs_down.trials > 0 and b.thumbs_down.trials == 0  # only KB answers offer thumbs
    # Decisions, ratings and the index carry the variant.
    [summary] = await store.list_conversations(limit=1)
    assert set(summary.variants) == {"kb-threshold"}
    ratings = await store.recent_ratings()
    assert ratings and all(r.variants == {"kb-threshold": "A"} for r in ratings)
    assert {m.text for m in channel.sent if m.conversation_id == "chat-0"}


async def test_same_config_is_not_yet_significant(tmp_path: Path) -> None:
    store = MemoryStore()
    config = sim_config(tmp_path)  # A and B alike
    await simulate(config, store, "can I pay with paypal")
    [exp] = await report(store, config)
    assert exp.verdict == "not yet significant"
    assert sum(v.conversations for v in exp.variants) == CUSTOMERS
