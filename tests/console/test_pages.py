"""The console's pages over plain HTTP: a webchat conversation, its transcript, escaping, numbers."""

from __future__ import annotations

import asyncio
import re
import time

from console.stats import hour_of
from tests.console.admin import console_config, signed_in
from tests.harness import WebchatClient, running_hub

RULES = [
    {"name": "hours", "keywords": ["hours"], "action": "reply", "text": "Nine to five."},
]
SCRIPT = "<script>alert('x')</script> what are your hours?"


async def wait_for(predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
    """Poll an async predicate until it holds; generous, for a loaded machine."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


async def test_conversation_listed_with_its_trace_and_customer_text_escaped() -> None:
    async with running_hub(console_config(rules=RULES)) as hub, signed_in(hub.url) as (http, _):
        async with WebchatClient.connect(hub.url) as chat:
            reply = await chat.say(SCRIPT)
            assert reply["text"] == "Nine to five."
        await hub.hub.drain()
        async with http.get(hub.url + "/admin/conversations/rows",
                            headers={"X-Requested-With": "XMLHttpRequest"}) as rows:
            fragment = await rows.text()
        assert "<script>" not in fragment
        link = re.search(r'href="/admin/conversations/([^"]+)"', fragment)
        assert link, fragment
        async with http.get(f"{hub.url}/admin/conversations/{link.group(1)}") as page:
            body = await page.text()
        assert page.status == 200
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in body
        assert "stage-rules" in body and "rule &#39;hours&#39; matched" in body
        assert "<th>rule</th><td>hours</td>" in body  # the evidence
        assert "language: en" in body  # the turn's trace


async def test_filters_narrow_the_list() -> None:
    async with running_hub(console_config(rules=RULES)) as hub, signed_in(hub.url) as (http, _):
        async with WebchatClient.connect(hub.url) as chat:
            await chat.say("hours?")
        await hub.hub.drain()
        for query, shown in (("channel=webchat", True), ("channel=telegram", False),
                             ("status=bot", True), ("status=resolved", False),
                             ("since=2000-01-01", True), ("until=2000-01-01", False)):
            async with http.get(f"{hub.url}/admin/conversations?{query}") as page:
                text = await page.text()
            assert ("Nine to five." in text or "hours?" in text) == shown, query


async def test_numbers_page_counts_the_conversation() -> None:
    async with running_hub(console_config(rules=RULES)) as hub, signed_in(hub.url) as (http, _):
        async with WebchatClient.connect(hub.url) as chat:
            await chat.say("hours?")
            await chat.say("something else entirely")
        await hub.hub.drain()
        for by in ("hour", "day"):
            async with http.get(f"{hub.url}/admin/numbers?by={by}") as page:
                text = await page.text()
            assert page.status == 200
            assert re.search(r"<b>2</b><span>decisions</span>", text), by
            assert text.count('<svg class="chart"') == 6


async def test_try_it_shows_the_decision_trace_and_saves_nothing() -> None:
    async with running_hub(console_config(rules=RULES)) as hub, signed_in(hub.url, "watcher") as (http, csrf):
        async with http.post(hub.url + "/admin/try", data={"csrf": csrf, "text": "your hours?"}) as page:
            text = await page.text()
        assert 'id="result-stage">rules<' in text and "Nine to five." in text
        assert "language: en" in text
        assert await hub.hub.store.list_conversations() == []
        assert await hub.hub.store.hours([hour_of(time.time())]) == [{}]


async def test_older_pages_on_past_the_first_fifty() -> None:
    from hub.envelope import InboundMessage

    async with running_hub(console_config(rules=RULES)) as hub, signed_in(hub.url) as (http, _):
        for i in range(55):
            await hub.hub.submit(InboundMessage(channel="webchat", conversation_id=f"p{i}",
                                                user_id=f"u{i}", message_id=f"m{i}", text="hours?"))
        await hub.hub.drain()
        async with http.get(hub.url + "/admin/conversations") as page:
            first = await page.text()
        assert first.count('<tr class="row') == 50
        older = re.search(r'href="(/admin/conversations\?[^"]*before=[^"]+)" id="older"', first)
        assert older, "no link to older conversations"
        async with http.get(hub.url + older.group(1).replace("&amp;", "&")) as page:
            second = await page.text()
        assert second.count('<tr class="row') == 5 and 'id="older"' not in second
        assert "data-live" not in second  # a past page stays put


async def test_a_french_question_is_added_to_the_french_faq(tmp_path) -> None:  # noqa: ANN001
    english = tmp_path / "faq.toml"
    english.write_text('[[entries]]\nid = "shipping"\nquestion = "How long does shipping take?"\n'
                       'answer = "Two days."\nexamples = ["delivery time"]\n')
    (tmp_path / "faq.fr.toml").write_text(
        'language = "fr"\n\n[[entries]]\nid = "livraison"\nquestion = "Combien de temps prend la livraison ?"\n'
        'answer = "Deux jours."\nexamples = ["délai de livraison"]\n')
    config = console_config(kb={"enabled": True, "path": str(english), "documents": []},
                            languages={"supported": ["en", "fr"], "default": "en"})
    question = "est-ce que vous vendez des chaussettes en laine pour les enfants"
    async with running_hub(config) as hub, signed_in(hub.url) as (http, csrf):
        async with WebchatClient.connect(hub.url) as chat:
            await chat.say(question)
        await hub.hub.drain()
        async with http.get(hub.url + "/admin/attention") as page:
            text = await page.text()
        assert question in text and 'name="language" value="fr"' in text
        assert re.search(r"<option[^>]*>livraison</option>", text) and ">shipping</option>" not in text
        form = {"csrf": csrf, "entry": "livraison", "question": question, "language": "fr"}
        async with http.post(hub.url + "/admin/faq/preview", data=form) as page:
            preview = await page.text()
        assert "faq.fr.toml" in preview
        digest = re.search(r'name="digest" value="([0-9a-f]+)"', preview).group(1)
        async with http.post(hub.url + "/admin/faq/save", data={**form, "digest": digest},
                             allow_redirects=False) as saved:
            assert saved.status == 303
        assert question in (tmp_path / "faq.fr.toml").read_text()
        assert question not in english.read_text()
