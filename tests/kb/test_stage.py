import asyncio
import gc
import logging
from pathlib import Path

import pytest

from hub.config import Config
from hub.conversation import Conversation
from hub.envelope import Button, InboundMessage
from hub.errors import ConfigError
from hub.stages import Turn
from kb.knowledge import KnowledgeBase
from kb.stage import KnowledgeStage


def make_turn(text: str, config: Config, channel: str = "webchat") -> Turn:
    message = InboundMessage(channel, "c1", "u1", "m1", text)
    conversation = Conversation(id="conv", channel=channel, address=f"{channel}:c1")
    return Turn(message=message, conversation=conversation, config=config)


@pytest.fixture
async def knowledge(faq_path: Path) -> KnowledgeBase:
    kb = KnowledgeBase(faq_path)
    await kb.load()
    return kb


async def test_confident_match_answers_with_buttons_and_details(knowledge: KnowledgeBase) -> None:
    config = Config.from_mapping({"kb": {"threshold": 0.05}})
    decision = await KnowledgeStage(knowledge)(make_turn("I want to send something back", config))
    assert decision is not None and decision.stage == "kb"
    assert decision.text == "Within 30 days."
    assert decision.buttons == (Button("Start a return", "start return"),)
    assert decision.reason.startswith("FAQ returns matched with confidence")
    assert decision.details["faq_id"] == "returns"
    assert set(decision.details) == {"faq_id", "score", "runner_up", "runner_up_score", "margin"}


async def test_below_threshold_passes_on_with_candidates(knowledge: KnowledgeBase) -> None:
    config = Config.from_mapping({"kb": {"threshold": 1.0, "candidates": 2}})
    turn = make_turn("can I pay with paypal", config)
    assert await KnowledgeStage(knowledge)(turn) is None
    assert [c.id for c in turn.candidates][0] == "payment-methods" and len(turn.candidates) == 2
    assert turn.kb_score is not None and turn.kb_margin is not None
    assert any("payment-methods" in line for line in turn.trace)


async def test_disabled_kb_is_not_mine(knowledge: KnowledgeBase) -> None:
    config = Config.from_mapping({"kb": {"enabled": False}})
    assert await KnowledgeStage(knowledge)(make_turn("return policy", config)) is None


async def test_reload_keeps_last_good_kb_and_names_the_fault(
    faq_path: Path, knowledge: KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    before = knowledge.matcher
    faq_path.write_text('[[entries]]\nid = "x"\nquestion = "q"\nanswer = ""\n', encoding="utf-8")  # noqa: ASYNC240
    with caplog.at_level(logging.ERROR, logger="kb.knowledge"):
        assert await knowledge.reload() is False
    assert knowledge.matcher is before
    assert "entries[0].answer (id 'x'): empty answer" in caplog.text
    faq_path.write_text('[[entries]]\nid = "x"\nquestion = "q"\nanswer = "fine"\n', encoding="utf-8")  # noqa: ASYNC240
    assert await knowledge.reload() is True
    assert [e.id for e in knowledge.faq] == ["x"]


def _collectable(obj: object) -> bool:
    """True if a garbage-collector pass would walk ``obj`` (frozen objects are skipped)."""
    return any(o is obj for o in gc.get_objects())


async def test_a_reload_freezes_the_new_matcher_when_the_process_froze_its_heap(
    faq_path: Path, knowledge: KnowledgeBase
) -> None:
    # What the freeze is for: the trained matcher's objects stay out of the
    # collector's passes. Asserted on the matcher itself, not on the global
    # freeze count, which also drops when older frozen objects are freed.
    faq_path.write_text('[[entries]]\nid = "x"\nquestion = "q"\nanswer = "fine"\n', encoding="utf-8")  # noqa: ASYNC240
    gc.unfreeze()
    assert await knowledge.reload() is True
    assert _collectable(knowledge.matcher)  # nothing froze the heap: a reload does not either
    gc.freeze()  # what `hub run` does after startup
    try:
        faq_path.write_text('[[entries]]\nid = "y"\nquestion = "q"\nanswer = "fine"\n', encoding="utf-8")  # noqa: ASYNC240
        assert await knowledge.reload() is True
        assert [e.id for e in knowledge.faq] == ["y"]
        assert not _collectable(knowledge.matcher)
        assert not _collectable(knowledge.faq)
    finally:
        gc.unfreeze()


async def test_watcher_retrains_once_per_edit_not_per_message(faq_path: Path) -> None:
    async with KnowledgeBase(faq_path, watch_interval_s=0.05) as kb:
        first = kb.matcher
        assert kb.matcher is first
        faq_path.write_text(faq_path.read_text() + '\n[[entries]]\nid = "new"\nquestion = "Gift cards?"\nanswer = "Yes."\n')  # noqa: ASYNC240
        for _ in range(100):
            await asyncio.sleep(0.05)
            if kb.matcher is not first:
                break
        assert kb.faq.get("new") is not None


async def test_first_load_of_invalid_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        await KnowledgeBase(tmp_path / "missing.toml").load()
