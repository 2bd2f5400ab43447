"""How well the support check tells supported answers from ones the passages do not hold.

Built from StackFAQ (Karan & Šnajder 2018; ``../shared/data/stackfaq``): for
each question, a model that knows the thread's first answer says its first
sentences back (verbatim, with words left out, with a lead-in or a courtesy
line: what models do), citing ``[n]``. Two cases per question:

* **supported**: the grounding holds that answer's passage, among the two best
  other articles the retriever found for the question;
* **unsupported**: the grounding is the three best *other* articles (the
  retriever's near misses, so on the same subject): the answer comes from the
  model's memory, not from the passages.

The threshold (``providers.selfcheck.SUPPORT_SHARE``) is chosen on the odd
threads (``--tune``: a sweep of the check alone); the figures are measured on
the even threads, held back, through the real ``LLMStage`` (and its
OpenAI-compatible client) against the fake OpenAI-compatible server of ``tests/fakes/llm_api.py``. A rejection
by the support check is a positive: precision is the share of rejected
answers that were unsupported, recall the share of unsupported answers rejected.

Usage: ``.venv/bin/python -m bench.support_check --data ../shared/data [--tune] [--per-split 300]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from hub.config import Config  # noqa: E402
from hub.conversation import Conversation  # noqa: E402
from hub.envelope import InboundMessage, Source  # noqa: E402
from hub.metrics import Metrics  # noqa: E402
from hub.stages import Candidate, Turn  # noqa: E402
from hub.store import MemoryStore  # noqa: E402
from kb.documents.chunks import Chunk  # noqa: E402
from kb.documents.ingest import Sources, build_index  # noqa: E402
from kb.documents.retrieval import Retriever  # noqa: E402
from providers import LLMStage  # noqa: E402
from providers.selfcheck import NOT_IN_PASSAGES, unsupported  # noqa: E402
from tests.fakes.llm_api import FakeLLM, Reply, answer_json, prompt_text  # noqa: E402

SEED = 19
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_QUESTION = re.compile(r"<customer_message>\n(.*?)\n</customer_message>", re.DOTALL)
LEADS = ("Sure.", "Yes, you can.", "Here is how to do it.")
CLOSINGS = ("Hope this helps!", "Let me know if you need anything else.")
FRAMES = ("Basically,", "To do that,", "The simplest way:", "In short,", "As far as I know,",
          "What works is this:")
FILLERS = ("simply", "just", "then", "actually", "usually", "option", "way")


@dataclass(frozen=True)
class Case:
    question: str
    answer: str  # what the model says (without its citation)
    heading: str  # the heading of the passage it comes from
    grounding: tuple[Chunk, ...]
    supported: bool


def _answer(chunk: Chunk, rng: random.Random) -> str:
    sentences = [s for s in _SENTENCE.split(" ".join(chunk.text.split())) if s][:2]
    style = rng.randrange(5)
    if style == 4:  # reworded: each sentence framed in words of the model's own
        sentences = [f"{rng.choice(FRAMES)} {s[:1].lower()}{s[1:]}" for s in sentences]
    words = " ".join(sentences).split()[:60]
    if style == 1:  # paraphrase by omission and filler: a sixth of the words out, some in
        words = [w if rng.random() > 1 / 6 else rng.choice(FILLERS) for w in words] or words
    text = " ".join(words)
    if style == 2:
        text = f"{rng.choice(LEADS)} {text}"
    if style == 3:
        text = f"{text.rstrip('.')}. {rng.choice(CLOSINGS)}"
    return text


def _first_answer(chunks: list[Chunk]) -> Chunk:
    answers = [c for c in chunks if "Answer" in c.heading] or chunks
    return answers[0]


def build_cases(data: Path, odd: bool, per_split: int) -> list[Case]:
    folder = data / "stackfaq"
    index = build_index(Sources(("documents/*.md",), folder))
    retriever = Retriever(index)
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in index.chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    with (folder / "questions.csv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if (int(r["doc_id"][1:]) % 2 == 1) == odd]
    rng = random.Random(SEED)
    rows = rng.sample(rows, min(per_split, len(rows)))
    cases: list[Case] = []
    for row in rows:
        right = _first_answer(by_doc[row["doc_id"]])
        others = [h.passages[0] for h in retriever.search(row["text"], k=8).hits
                  if h.doc_id != row["doc_id"]][:3]
        answer = _answer(right, rng)
        mixed = [*others[:2]]
        mixed.insert(rng.randrange(len(mixed) + 1), right)
        cases.append(Case(row["text"], answer, right.heading, tuple(mixed), True))
        cases.append(Case(row["text"], answer, right.heading, tuple(others), False))
    return cases


def _candidates(case: Case) -> list[Candidate]:
    return [
        Candidate(str(n), c.heading, c.text, 0.5, source=Source(c.title, c.url, n))
        for n, c in enumerate(case.grounding, start=1)
    ]


def sweep(cases: list[Case]) -> list[dict[str, float]]:
    """The check alone at several thresholds (no model): for choosing SUPPORT_SHARE."""
    rows = []
    for share in (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8):
        flagged = [
            unsupported(c.answer, [f"{x.question}\n{x.answer}" for x in _candidates(c)], share)
            is not None
            for c in cases
        ]
        rows.append({"share": share, **_scores(cases, flagged)})
    return rows


def _scores(cases: list[Case], rejected: list[bool]) -> dict[str, float]:
    tp = sum(r and not c.supported for c, r in zip(cases, rejected, strict=True))
    fp = sum(r and c.supported for c, r in zip(cases, rejected, strict=True))
    positives = sum(not c.supported for c in cases)
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
        "recall": round(tp / positives, 3) if positives else 1.0,
        "supported_rejected": fp,
        "unsupported_passed": positives - tp,
    }


class _Model:
    """What the fake provider answers: the case's answer, citing the passage it came from."""

    def __init__(self, cases: list[Case]) -> None:
        self.cases = {(c.question, c.supported): c for c in cases}

    def __call__(self, body: dict[str, Any]) -> str:
        prompt = prompt_text(body)
        found = _QUESTION.search(prompt)
        question = found.group(1) if found else ""
        case = self.cases.get((question, True))
        if case is None:
            return answer_json("I'm not sure about that.", confident=False)
        number = next((line[1:line.index("]")] for line in prompt.splitlines()
                       if line.startswith("[") and f"Q: {case.heading} A:" in line), "1")
        return answer_json(f"{case.answer} [{number}]", sources=[number])


async def measure(cases: list[Case]) -> dict[str, Any]:
    """Every case through the LLM stage against the fake provider."""
    async with FakeLLM(default=Reply(_Model(cases)), keep_requests=False) as fake:
        model = {"model": "openai/gpt-4o-mini", "api_base": fake.openai_base, "api_key_env": ""}
        model.pop("api_key_env")
        config = Config.from_mapping({"llm": {
            "cache_ttl_s": 0, "timeout_s": 30, "history_turns": 0,
            "tiers": [{"name": "cheap", "models": [model]}],
        }})
        store = MemoryStore()
        stage = LLMStage(store, Metrics())
        rejected: list[bool] = []
        other: list[str] = []
        for case in cases:
            message = InboundMessage("webchat", "bench", "u", f"m{len(rejected)}", case.question)
            turn = Turn(message, Conversation.start(message), config, candidates=_candidates(case))
            decision = await stage(turn)
            assert decision is not None
            failures = list(decision.details.get("failures", ()))
            rejected.append(any(f.endswith(NOT_IN_PASSAGES) for f in failures))
            other += [f.split(": ", 1)[1] for f in failures if not f.endswith(NOT_IN_PASSAGES)]
        await stage.__aexit__(None, None, None)
    return {"n": len(cases), **_scores(cases, rejected), "other_rejections": dict(Counter(other)),
            "calls": fake.calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-split", type=int, default=300, help="questions per split")
    parser.add_argument("--tune", action="store_true", help="sweep thresholds on the odd threads")
    ns = parser.parse_args()
    if ns.tune:
        for row in sweep(build_cases(ns.data, odd=True, per_split=ns.per_split)):
            print(json.dumps(row))
        return
    cases = build_cases(ns.data, odd=False, per_split=ns.per_split)
    print(json.dumps(asyncio.run(measure(cases))))


if __name__ == "__main__":
    main()
