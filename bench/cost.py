"""What the LLM router costs per 1,000 customer questions, against "premium for everything".

Runs a mixed question set through the whole chain (the rules of ``config.toml``,
the knowledge base, the LLM router with a cheap and a premium tier, hand-off)
with the real litellm talking to the fake provider of ``tests/fakes/llm_api.py``
on 127.0.0.1, which answers with realistic token counts. Prices are litellm's
own table for ``openai/gpt-4o-mini`` (cheap) and ``anthropic/claude-sonnet-4-5``
(premium). Then the same questions go to the premium tier alone, grounded the
same way, with no rules, KB answers or cache: the baseline.

Data: the KB is built from the training splits (BANKING77 train minus its
held-out 10%, CLINC150 train); questions come only from the held-out splits
(BANKING77 held-out 10%, CLINC150 val, CLINC150 oos_val) plus a few
hand-written support messages (complaints, several questions, advice topics).
The carving is ``bench/kb_data.py``'s, so figures match docs/kb.md's splits.

The simulated models decline when no reference question shares a content word
with the question (out-of-scope questions); the cheap one also
declines 15% of the rest (chosen by a hash of the question, so runs repeat).
Answers are about 55 words and cite the first reference answer.

Usage: ``.venv/bin/python -m bench.cost [--data ../shared/data] [--per-split 400]``
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import hashlib  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from bench.kb_data import carve  # noqa: E402
from hub.config import Config, load_config  # noqa: E402
from hub.envelope import InboundMessage, new_id  # noqa: E402
from hub.handoff import HandoffStage  # noqa: E402
from hub.hub import Hub  # noqa: E402
from hub.metrics import Metrics  # noqa: E402
from hub.stages import Decision, Stage  # noqa: E402
from hub.store import MemoryStore  # noqa: E402
from kb.faq import Faq  # noqa: E402
from kb.importer import faq_to_toml, import_csv, read_texts  # noqa: E402
from kb.knowledge import KnowledgeBase  # noqa: E402
from kb.stage import KnowledgeStage  # noqa: E402
from providers import LLMStage  # noqa: E402
from routing.rules import RuleStage  # noqa: E402
from tests.fakes.llm_api import FakeLLM, Reply, answer_json, prompt_text  # noqa: E402

SEED = 7
CHEAP_DECLINE_SHARE = 0.15
RELATED_OVERLAP = 0.01  # i.e. no content word in common
ANSWER_WORDS = 55
HANDWRITTEN = (
    "This is the third time I'm writing! My card was charged twice for order 99812345 and "
    "nobody answers. Who is going to refund me, and when? This is unacceptable.",
    "I moved house, how do I change my address, and will my new card go to the old one? "
    "Also can I get a second card for my partner?",
    "My transfer of 2,400 EUR to account 0044 0532 0130 never arrived, it's urgent, what "
    "happened and how long will it take?",
    "Is it legal for you to freeze my account without telling me? I want compensation.",
    "What dosage of ibuprofen should I take for a headache?",
    "Your app is useless, I'm fed up, the top-up failed again and again. Cancel everything.",
    "Can you explain the difference between your premium and metal plans, the fees abroad "
    "and whether the insurance covers car rentals?",
    "I think someone stole my phone with the app on it, what should I do first? Freeze the "
    "card? Change the passcode? Call you?",
)


def _is_declined(text: str) -> bool:
    digest = hashlib.sha256(text.encode()).digest()
    return digest[0] < 256 * CHEAP_DECLINE_SHARE


def _customer_text(body: dict[str, Any]) -> str:
    return prompt_text({"messages": body["messages"][-1:]})


_WORD = re.compile(r"[a-z]{3,}")
_STOP = frozenset("the and you your for can how what why when where does with this that have "
                  "from are was will would could should about there their please".split())


def _overlap(question: str, refs: list[str]) -> float:
    """Share of the question's content words found in the best reference question."""
    words = set(_WORD.findall(question.lower())) - _STOP
    if not words:
        return 0.0
    return max(len(words & set(_WORD.findall(r.split(" A: ")[0].lower()))) / len(words)
               for r in refs)


def _model_reply(body: dict[str, Any], *, cheap: bool) -> str:
    """A grounded answer of realistic length citing the first reference, or a decline.

    Like a real model told to answer only from the references, it declines when
    they have nothing in common with the question (out-of-scope questions).
    """
    lines = prompt_text(body).splitlines()
    refs = [line for line in lines if line.startswith("[") and " A: " in line]
    question = _customer_text(body)
    unrelated = not refs or _overlap(question, refs) < RELATED_OVERLAP
    if unrelated or (cheap and _is_declined(question)):
        return answer_json("I'm not sure the reference answers cover this.", confident=False)
    source = refs[0][1 : refs[0].index("]")]
    words = ("Here is what you need to know about this, step by step. " * 8).split()
    return answer_json(" ".join(words[:ANSWER_WORDS]), sources=[source])


def build_faq(folder: Path) -> Faq:
    """One FAQ from both training splits (ids prefixed by dataset)."""
    entries = []
    for prefix, path in (("b77", "banking77/train.csv"), ("clinc", "clinc150/train.csv")):
        for entry in import_csv(folder / path):
            entries.append(entry.__class__(
                f"{prefix}-{entry.id}", entry.question, entry.answer, examples=entry.examples
            ))
    return Faq(tuple(entries))


def questions(folder: Path, per_split: int) -> list[str]:
    rng = random.Random(SEED)
    picked: list[str] = []
    for path in ("banking77/val.csv", "clinc150/val.csv", "clinc150/oos.csv"):
        texts = read_texts(folder / path)
        picked += rng.sample(texts, min(per_split, len(texts)))
    return picked + list(HANDWRITTEN)


def llm_section(fake: FakeLLM, tiers: Sequence[str], cache_ttl_s: int) -> dict[str, Any]:
    models = {
        "cheap": {"model": "openai/gpt-4o-mini", "api_base": fake.openai_base,
                  "api_key_env": "BENCH_OPENAI_KEY"},
        "premium": {"model": "anthropic/claude-sonnet-4-5", "api_base": fake.anthropic_base,
                    "api_key_env": "BENCH_ANTHROPIC_KEY"},
    }
    return {
        "enabled": True,
        "timeout_s": 10.0,
        "daily_budget_usd": 0.0,
        "conversation_budget_usd": 0.0,
        "cache_ttl_s": cache_ttl_s,
        "tiers": [{"name": t, "max_score": 0.45 if t == "cheap" else 1.0, "models": [models[t]]}
                  for t in tiers],
    }


def config_with(base: Config, llm: dict[str, Any], *, rules: bool, kb_threshold: float) -> Config:
    data = base.model_dump(exclude={"source"})
    data["llm"] = llm
    data["kb"] = {**data["kb"], "enabled": True, "threshold": kb_threshold}
    if not rules:
        data["rules"] = []
    return Config.from_mapping(data)


def outcome(decision: Decision) -> str:
    if decision.stage != "llm":
        return {"rules": "rules", "kb": "kb"}.get(decision.stage, "hand-off")
    if decision.handoff is not None or "refused_topic" in decision.details:
        return "hand-off"
    if decision.details.get("cached"):
        return "llm cache"
    return f"llm {decision.details['tier']}"


async def run_chain(config: Config, stages: list[Stage], texts: Sequence[str]) -> tuple[Counter[str], float]:
    store = MemoryStore()
    hub = Hub(config, store, stages, metrics=Metrics())
    shares: Counter[str] = Counter()
    cost = 0.0
    for index, text in enumerate(texts):
        message = InboundMessage(
            channel="bench", conversation_id=f"q{index}", user_id="bench",
            message_id=new_id(), text=text,
        )
        turn = await hub.new_turn(message, await hub.conversation_for(message), dry_run=True)
        decision = await hub.decide(turn)
        shares[outcome(decision)] += 1
        cost += float(decision.details.get("cost_usd", 0.0)) if decision.stage == "llm" else 0.0
    await hub.close()
    return shares, cost


def report(name: str, shares: Counter[str], cost: float, n: int) -> float:
    per_1000 = cost / n * 1000
    print(f"\n{name}: {n} questions")
    for key in ("rules", "kb", "llm cheap", "llm premium", "llm cache", "hand-off"):
        if shares.get(key):
            print(f"  {key:<12} {shares[key]:>5}  {shares[key] / n:6.1%}")
    print(f"  cost per 1,000 questions: ${per_1000:.4f}")
    return per_1000


async def main(data: Path, per_split: int) -> None:
    os.environ.setdefault("BENCH_OPENAI_KEY", "sk-bench")
    os.environ.setdefault("BENCH_ANTHROPIC_KEY", "sk-ant-bench")
    base = load_config("config.toml")
    with tempfile.TemporaryDirectory(prefix="sb-cost-") as tmp:
        folder = Path(tmp)
        carve(data, folder / "data")
        faq_path = folder / "faq.toml"
        faq_path.write_text(faq_to_toml(build_faq(folder / "data")), encoding="utf-8")
        knowledge = KnowledgeBase(faq_path)
        await knowledge.load()
        texts = questions(folder / "data", per_split)
        async with FakeLLM() as fake:
            fake.on("gpt-4o-mini", Reply(lambda body: _model_reply(body, cheap=True)))
            fake.on("claude-sonnet-4-5", Reply(lambda body: _model_reply(body, cheap=False)))
            routed = config_with(base, llm_section(fake, ("cheap", "premium"), 3600),
                                 rules=True, kb_threshold=base.kb.threshold)
            metrics = Metrics()
            store = MemoryStore()
            chain: list[Stage] = [RuleStage(), KnowledgeStage(knowledge),
                                  LLMStage(store, metrics), HandoffStage()]
            shares, cost = await run_chain(routed, chain, texts)
            premium_only = config_with(base, llm_section(fake, ("premium",), 0),
                                       rules=False, kb_threshold=1.0)
            baseline_chain: list[Stage] = [KnowledgeStage(knowledge),
                                           LLMStage(MemoryStore(), Metrics()), HandoffStage()]
            base_shares, base_cost = await run_chain(premium_only, baseline_chain, texts)
    ours = report("Switchboard (rules -> KB -> cheap/premium LLM -> hand-off)", shares, cost, len(texts))
    theirs = report("Baseline (premium model for everything)", base_shares, base_cost, len(texts))
    print(f"\ncost ratio: {ours / theirs:.1%} of the premium-for-everything baseline")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-split", type=int, default=400,
                        help="questions sampled from each held-out split (default 400)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("LiteLLM", "litellm", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    args = parse_args()
    asyncio.run(main(args.data, args.per_split))
