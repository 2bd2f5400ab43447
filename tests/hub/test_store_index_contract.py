"""The conversation index, ratings and audit log: one contract, both stores."""

from __future__ import annotations

from dataclasses import replace

import pytest

from feedback import Rating
from hub.conversation import Conversation, TranscriptEntry
from hub.envelope import InboundMessage
from hub.store import Keys, Store


def conversation(
    chat: str = "c1", user: str = "u1", channel: str = "webchat", at: float = 100.0
) -> Conversation:
    message = InboundMessage(
        channel=channel, conversation_id=chat, user_id=user, user_name="Ada", message_id="m",
        text="hi",
    )
    return replace(Conversation.start(message), created_at=at)


def line(n: int, at: float, sender: str = "customer", text: str = "") -> TranscriptEntry:
    return TranscriptEntry(
        id=f"e{n}", sender=sender, text=text or f"line {n}", timestamp=at,  # type: ignore[arg-type]
        language="de" if n == 1 else None,
    )


async def test_a_saved_conversation_has_a_summary_that_counts_its_lines(store: Store) -> None:
    conv = conversation()
    await store.save_conversation(conv)
    fresh = await store.conversation_summary(conv.id)
    assert fresh is not None
    assert (fresh.address, fresh.channel, fresh.user, fresh.user_name) == (
        "webchat:c1", "webchat", "u1", "Ada"
    )
    assert (fresh.status, fresh.messages, fresh.started_at) == ("bot", 0, conv.created_at)
    await store.append(conv.id, line(1, conv.created_at + 1), max_len=10)
    await store.append(
        conv.id, line(2, conv.created_at + 2, "bot"), max_len=10, preview="Mail [email]"
    )
    summary = await store.conversation_summary(conv.id)
    assert summary is not None
    assert (summary.messages, summary.last_at, summary.last_text, summary.language) == (
        2, conv.created_at + 2, "Mail [email]", "de"
    )
    await store.save_conversation(conv.evolve(tags=("vip",)))  # counts survive a save
    summary = await store.conversation_summary(conv.id)
    assert summary is not None and (summary.messages, summary.tags) == (2, ("vip",))
    assert summary.language == "de"


async def test_lines_of_an_unsaved_conversation_make_no_summary(store: Store) -> None:
    await store.append("nobody", line(1, 10.0), max_len=10)
    assert await store.conversation_summary("nobody") is None
    assert await store.list_conversations() == []


async def test_status_follows_the_hand_off_and_a_claim_sticks(store: Store) -> None:
    conv = conversation()
    await store.save_conversation(conv)
    await store.save_conversation(conv.evolve(status="handoff"))
    assert (await store.conversation_summary(conv.id)).status == "waiting"  # type: ignore[union-attr]
    await store.set_conversation_status(conv.id, "agent")
    await store.save_conversation(conv.evolve(status="handoff", tags=("x",)))
    assert (await store.conversation_summary(conv.id)).status == "agent"  # type: ignore[union-attr]
    await store.save_conversation(conv.evolve(status="resolved"))
    assert (await store.conversation_summary(conv.id)).status == "resolved"  # type: ignore[union-attr]
    await store.set_conversation_status("unknown", "agent")
    assert await store.conversation_summary("unknown") is None


async def _three(store: Store) -> list[Conversation]:
    convs = [
        conversation("a", "u1"), conversation("b", "u2", "telegram"), conversation("c", "u3")
    ]
    for n, conv in enumerate(convs):
        await store.save_conversation(conv)
        await store.append(conv.id, line(n, 1000.0 + n), max_len=10)
    await store.save_conversation(convs[2].evolve(tags=("billing",), status="handoff"))
    return convs


async def test_list_is_newest_first_and_filters(store: Store) -> None:
    a, b, c = await _three(store)
    assert [s.id for s in await store.list_conversations()] == [c.id, b.id, a.id]
    assert [s.id for s in await store.list_conversations(channel="telegram")] == [b.id]
    assert [s.id for s in await store.list_conversations(status="waiting")] == [c.id]
    assert [s.id for s in await store.list_conversations(tag="billing")] == [c.id]
    assert [s.id for s in await store.list_conversations(since=1001.0)] == [c.id, b.id]
    assert [s.id for s in await store.list_conversations(until=1001.0)] == [b.id, a.id]
    assert [s.id for s in await store.list_conversations(limit=1)] == [c.id]
    assert [s.id for s in await store.list_conversations(before=1002.0, limit=1)] == [b.id]
    assert [s.id for s in await store.list_conversations(before=1001.0)] == [a.id]
    assert await store.list_conversations(channel="slack") == []


async def test_list_pages_through_many(store: Store) -> None:
    for n in range(130):
        conv = conversation(f"chat{n}", f"u{n}")
        await store.save_conversation(conv)
        await store.append(conv.id, line(n, 5000.0 + n), max_len=10)
    first = await store.list_conversations(channel="webchat", limit=120)
    rest = await store.list_conversations(before=first[-1].last_at, limit=50)
    assert len(first) == 120 and len(rest) == 10
    assert [s.last_at for s in first + rest] == [5000.0 + n for n in reversed(range(130))]


def thumbs(conv: Conversation, value: int, index: int = 1, at: float = 1.0) -> Rating:
    return Rating(
        conversation_id=conv.id, address=conv.address, decision_index=index, kind="thumbs",
        value=value, stage="kb", variants={"threshold": "B"}, at=at,
    )


async def test_ratings_are_kept_per_conversation_and_recent_first(store: Store) -> None:
    a, b, _ = await _three(store)
    await store.add_rating(thumbs(a, 1, at=1.0))
    await store.add_rating(thumbs(b, -1, at=2.0))
    csat = Rating(a.id, a.address, -1, "csat", 4, comment="quick", at=3.0)
    await store.add_rating(csat)
    assert await store.ratings(a.id) == [thumbs(a, 1, at=1.0), csat]
    assert [r.at for r in await store.recent_ratings()] == [3.0, 2.0, 1.0]
    assert await store.recent_ratings(kind="thumbs", value=-1) == [thumbs(b, -1, at=2.0)]
    assert await store.recent_ratings(kind="csat") == [csat]
    assert len(await store.recent_ratings(limit=2)) == 2
    summary = await store.conversation_summary(a.id)
    assert summary is not None and (summary.rating, summary.csat) == (1, 4)
    assert [s.id for s in await store.list_conversations(rating=-1)] == [b.id]
    assert (await store.ratings(a.id))[0].variants == {"threshold": "B"}


def test_a_rating_refuses_values_outside_its_kind() -> None:
    with pytest.raises(ValueError, match="thumbs"):
        Rating("c", "webchat:c", 1, "thumbs", 2)
    with pytest.raises(ValueError, match="CSAT"):
        Rating("c", "webchat:c", -1, "csat", 6)


async def test_audit_log_is_newest_first(store: Store) -> None:
    assert await store.audit_log() == []
    first = await store.audit("ops", "faq.edit", "shipping-time")
    await store.audit("ana", "privacy.forget", "webchat:u1")
    log = await store.audit_log()
    assert [(r.actor, r.action, r.detail) for r in log] == [
        ("ana", "privacy.forget", "webchat:u1"), ("ops", "faq.edit", "shipping-time")
    ]
    assert log[1] == first and first.at > 0
    assert len(await store.audit_log(limit=1)) == 1


async def test_customer_conversations_and_forget_one(store: Store) -> None:
    a, b, c = await _three(store)
    again = conversation("a2", "u1")
    await store.save_conversation(again)
    assert await store.customer_conversations("webchat", "u1") == sorted([a.id, again.id])
    await store.add_rating(thumbs(a, -1))
    await store.add_rating(thumbs(b, 1))
    escalation = {"conversation_id": a.id, "board_channel": "C1", "thread": "17.1"}
    await store.set(Keys.escalation(a.id), escalation)
    await store.set(Keys.escalation_thread("C1", "17.1"), a.id)
    await store.add_member(Keys.open_escalations(), a.id)
    await store.set(Keys.flow_state(a.id), {"flow": "returns"})

    assert await store.forget_conversation(a.id)
    assert await store.get_conversation(a.id) is None
    assert await store.conversation_summary(a.id) is None
    assert await store.transcript(a.id) == []
    assert await store.ratings(a.id) == []
    assert [r.conversation_id for r in await store.recent_ratings()] == [b.id]
    assert await store.get(Keys.escalation(a.id)) is None
    assert await store.get(Keys.escalation_thread("C1", "17.1")) is None
    assert await store.members(Keys.open_escalations()) == set()
    assert await store.get(Keys.flow_state(a.id)) is None
    assert await store.customer_conversations("webchat", "u1") == [again.id]
    assert await store.conversation_at("webchat:a") is None
    assert {s.id for s in await store.list_conversations()} == {again.id, b.id, c.id}
    assert not await store.forget_conversation(a.id)


async def test_forget_keeps_the_address_of_a_newer_conversation(store: Store) -> None:
    old = conversation()
    await store.save_conversation(old)
    new = Conversation.start(
        InboundMessage(channel="webchat", conversation_id="c1", user_id="u1", message_id="n",
                       text="again"),
        linked_from=old.id,
    )
    await store.save_conversation(new)
    await store.forget_conversation(old.id)
    current = await store.conversation_at("webchat:c1")
    assert current is not None and current.id == new.id


async def test_expire_forgets_conversations_idle_since_before_a_time(store: Store) -> None:
    a, b, c = await _three(store)  # last lines at 1000, 1001, 1002
    assert sorted(await store.expire_conversations(older_than=1002.0)) == sorted([a.id, b.id])
    assert [s.id for s in await store.list_conversations()] == [c.id]
    assert await store.get_conversation(a.id) is None and await store.transcript(b.id) == []
    assert await store.expire_conversations(older_than=1002.0) == []


async def test_last_text_is_masked_and_cut_when_read(store: Store) -> None:
    conv = conversation()
    await store.save_conversation(conv)
    card = "4111 1111 1111 1111"
    text = f"card {card}, mail jane@example.com " + "and more words " * 40
    await store.append(conv.id, line(1, conv.created_at + 1, text=text), max_len=10)
    summary = await store.conversation_summary(conv.id)
    assert summary is not None
    assert summary.last_text.startswith("card [card], mail [email] and more words")
    assert len(summary.last_text) == 160 and summary.last_text.endswith("…")
    [listed] = await store.list_conversations()
    assert listed.last_text == summary.last_text
    assert (await store.transcript(conv.id))[0].text == text  # the transcript is as written
