"""The chat page in a real browser: Playwright driving Debian's Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.browser import chromium
from tests.harness import make_config, running_hub, start_redis

RULES = [
    {"name": "hours", "keywords": ["hours"], "action": "reply", "text": "Nine to five.",
     "buttons": [{"label": "Weekends?", "value": "weekend opening"}]},
    {"name": "weekend", "keywords": ["weekend"], "action": "reply", "text": "Closed on weekends."},
]


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    async with chromium() as launched:
        yield launched


async def send(page, text: str) -> None:
    await page.fill("#input", text)
    await page.press("#input", "Enter")


async def test_chat_rule_reply_button_and_resume(browser) -> None:
    async with running_hub(make_config(rules=RULES)) as hub:
        context = await browser.new_context(viewport={"width": 375, "height": 700})
        page = await context.new_page()
        await page.goto(hub.url + "/")
        await page.wait_for_selector("#status.status--online")

        await send(page, "What are your hours?")
        bot = page.locator(".msg--bot")
        await bot.first.wait_for()
        assert await bot.first.inner_text() == "Nine to five.\nWeekends?"

        await page.click(".msg--bot .buttons button")
        await page.locator(".msg--bot", has_text="Closed on weekends.").wait_for()

        # The connection drops: the page reconnects by itself and resumes the session.
        await page.evaluate("window.switchboard.socket().close()")
        await page.wait_for_selector("#status.status--online")
        await send(page, "hours again")
        await page.locator(".msg--bot").nth(2).wait_for()
        assert await page.locator(".msg--customer").count() == 3
        assert await page.locator(".msg--pending").count() == 0

        # A new page load resumes from the stored session with the whole history.
        await page.reload()
        await page.wait_for_selector("#status.status--online")
        assert await page.locator(".msg--bot").count() == 3
        assert await page.locator(".msg--customer").count() == 3

        # Usable on a phone: the composer is on screen.
        box = await page.locator("#composer").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 700
        await context.close()


async def test_messages_typed_while_offline_are_sent_after_reconnect(browser) -> None:
    async with running_hub(make_config(rules=RULES)) as hub:
        page = await browser.new_page()
        await page.goto(hub.url + "/")
        await page.wait_for_selector("#status.status--online")
        adapter = hub.hub.adapters["webchat"]
        await adapter.disconnect_all()  # the server closes every socket
        await send(page, "hours?")
        await page.locator(".msg--bot", has_text="Nine to five.").wait_for(timeout=15000)
        assert await page.locator(".msg--customer").count() == 1
        await page.close()


async def test_streamed_llm_answer_shows_progressively_then_final(
    browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.llm_api import FakeLLM, Reply, answer_json
    from tests.providers.conftest import OPENAI_KEY_ENV, llm_section

    answer = ("Our stores open at nine in the morning and close at six in the evening, "
              "from Monday to Saturday, and on Sundays we open at ten.")
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test-openai")
    async with FakeLLM() as fake:
        fake.on("gpt-4o-mini", Reply(answer_json(answer)))
        async with running_hub(make_config(llm=llm_section(fake))) as hub:
            page = await browser.new_page()
            await page.goto(hub.url + "/")
            await page.wait_for_selector("#status.status--online")
            await page.evaluate("""() => {
                window.sawStreaming = false;
                new MutationObserver(() => {
                    if (document.querySelector('.msg--streaming')) window.sawStreaming = true;
                }).observe(document.getElementById('log'), {childList: true, subtree: true});
            }""")
            await send(page, "when are you open")
            final = page.locator(".msg--bot:not(.msg--streaming)")
            await final.first.wait_for(timeout=60000)  # the first call imports litellm
            assert await final.first.inner_text() == answer
            assert await page.evaluate("window.sawStreaming")
            assert await page.locator(".msg--streaming").count() == 0
            await page.close()


GREETING = {"text": "Hi! I'm the Northwind assistant. Ask me about orders, shipping or returns.",
            "buttons": [{"label": "Opening hours", "value": "hours"},
                        {"label": "Weekends?", "value": "weekend opening"}]}
SCREENSHOTS = Path(os.environ.get("SWITCHBOARD_SCREENSHOTS", "/tmp/switchboard-screenshots"))


async def test_the_page_opens_with_the_greeting_and_old_buttons_retire(browser) -> None:
    config = make_config(rules=RULES, channels={"webchat": {"greeting": GREETING}})
    async with running_hub(config) as hub:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for width, height in ((1280, 800), (375, 700)):
            context = await browser.new_context(viewport={"width": width, "height": height})
            page = await context.new_page()
            await page.goto(hub.url + "/")
            greeting = page.locator(".msg--bot", has_text="Northwind assistant")
            await greeting.wait_for()
            assert await greeting.locator("button").count() == 2
            await page.screenshot(path=str(SCREENSHOTS / f"webchat-greeting-{width}x{height}.png"))
            await context.close()

        page = await browser.new_page()
        await page.goto(hub.url + "/")
        await page.locator(".msg--bot", has_text="Northwind assistant").wait_for()
        await page.click("text=Opening hours")
        await page.locator(".msg--bot", has_text="Nine to five.").wait_for()
        assert await page.locator(".msg--bot").first.locator("button").first.is_disabled()

        await page.reload()
        await page.wait_for_selector("#status.status--online")
        bots = page.locator(".msg--bot")
        assert await bots.count() == 2  # the greeting once, at the top, and the answer
        assert "Northwind assistant" in await bots.first.inner_text()
        greeting_buttons = bots.first.locator("button")
        assert [await b.is_disabled() for b in await greeting_buttons.all()] == [True, True]
        answer_button = bots.nth(1).locator("button")  # the newest message's button still works
        assert not await answer_button.is_disabled()
        await answer_button.click()
        await page.locator(".msg--bot", has_text="Closed on weekends.").wait_for()
        await page.close()


async def test_the_text_box_grows_and_takes_max_chars(browser) -> None:
    config = make_config(rules=RULES, channels={"webchat": {"max_chars": 300}})
    async with running_hub(config) as hub:
        page = await browser.new_page()
        await page.goto(hub.url + "/")
        await page.wait_for_selector("#status.status--online")
        one_line = await page.eval_on_selector("#input", "e => e.getBoundingClientRect().height")
        await page.fill("#input", "first line")
        await page.press("#input", "Shift+Enter")
        await page.type("#input", "second line")
        await page.press("#input", "Shift+Enter")
        await page.type("#input", "third line")
        three_lines = await page.eval_on_selector("#input", "e => e.getBoundingClientRect().height")
        assert three_lines > one_line * 1.8
        assert await page.eval_on_selector("#input", "e => e.scrollHeight <= e.clientHeight + 1")
        assert await page.get_attribute("#input", "maxlength") == "300"
        await page.press("#input", "Enter")
        await page.locator(".msg--customer").wait_for()
        after = await page.eval_on_selector("#input", "e => e.getBoundingClientRect().height")
        assert abs(after - one_line) < 1.5  # back to one line once sent
        await page.close()


async def test_a_refused_message_is_marked_failed_not_resent_and_can_be_retried(browser) -> None:
    config = make_config(rules=RULES, channels={"webchat": {"rate_limit_burst": 1,
                                                            "rate_limit_per_s": 0.5}})
    async with running_hub(config) as hub:
        page = await browser.new_page()
        await page.goto(hub.url + "/")
        await page.wait_for_selector("#status.status--online")
        await send(page, "hours?")
        await send(page, "weekend?")
        failed = page.locator(".msg--failed")
        await failed.wait_for()
        assert "weekend?" in await failed.inner_text()
        assert await page.locator(".msg--pending").count() == 0

        # A reconnect does not resend it: it stays failed until the customer says so.
        await page.evaluate("window.switchboard.socket().close()")
        await page.wait_for_selector("#status.status--online")
        await page.wait_for_timeout(500)
        assert await page.locator(".msg--failed").count() == 1
        assert await page.locator(".msg--bot", has_text="Closed on weekends.").count() == 0

        await page.wait_for_timeout(2000)  # the bucket refills
        await page.click(".msg--failed .msg__retry")
        await page.locator(".msg--bot", has_text="Closed on weekends.").wait_for()
        assert await page.locator(".msg--failed").count() == 0
        assert await page.locator(".msg--customer").count() == 2
        await page.close()


async def test_unavailable_is_retried_on_the_open_socket_with_back_off(browser) -> None:
    redis = start_redis()
    try:
        async with running_hub(make_config(rules=RULES, store={"url": redis.url})) as hub:
            page = await browser.new_page()
            await page.goto(hub.url + "/")
            await page.wait_for_selector("#status.status--online")
            socket_before = await page.evaluate("window.switchboard.socket().url")
            await page.evaluate("window.firstSocket = window.switchboard.socket()")
            redis.stop()
            await send(page, "hours?")
            await page.wait_for_timeout(1500)  # refused at least once meanwhile
            assert await page.locator(".msg--pending").count() == 1
            redis.restart()
            await page.locator(".msg--bot", has_text="Nine to five.").wait_for(timeout=20000)
            assert await page.locator(".msg--bot").count() == 1
            assert await page.locator(".msg--pending").count() == 0
            # ... on the socket it had all along: no reconnect was needed.
            assert await page.evaluate("window.firstSocket === window.switchboard.socket()")
            assert socket_before.endswith("/ws")
            await page.close()
    finally:
        redis.stop()


async def test_an_answer_from_an_article_shows_its_source_as_a_link(browser, tmp_path: Path) -> None:
    help_dir = tmp_path / "help"
    shutil.copytree(Path(__file__).resolve().parents[2] / "kb" / "help", help_dir)
    kb = {"enabled": True, "path": str(Path(__file__).resolve().parents[2] / "kb" / "faq.toml"),
          "documents": [str(help_dir / "*.md")], "documents_base_url": "https://help.example/articles"}
    async with running_hub(make_config(kb=kb)) as hub:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(hub.url + "/")
        await page.wait_for_selector("#status.status--online")
        await send(page, "How long does it take to break in leather boots?")
        link = page.locator(".msg--bot .sources a")
        await link.wait_for()
        assert await link.get_attribute("href") == (
            "https://help.example/articles/boot-fitting#breaking-them-in"
        )
        assert await link.inner_text() == "Hiking boots: fit and breaking in"
        assert await link.get_attribute("rel") == "noopener noreferrer"
        bubble = await page.locator(".msg--bot").last.inner_text()
        assert "20 to 30 kilometres" in bubble
        assert bubble.count("Read more:") == 1 and "https://" not in bubble  # the link, not the URL
        await context.close()


async def test_the_page_speaks_the_browsers_language_then_the_conversations(browser) -> None:
    rules = [{"name": "hours-zh", "keywords": ["营业时间"], "action": "reply", "text": "早九晚五。"}]
    config = make_config(rules=rules, languages={"supported": ["en", "zh", "fr"], "default": "en"})
    async with running_hub(config) as hub:
        context = await browser.new_context(locale="fr-FR")
        page = await context.new_page()
        await page.goto(hub.url + "/")
        await page.wait_for_selector("#status.status--online")
        assert await page.get_attribute("#input", "placeholder") == "Écrivez votre message…"
        assert await page.inner_text("#send") == "Envoyer"
        assert await page.inner_text("#status") == "en ligne"

        await send(page, "你们的营业时间是什么时候？")
        await page.locator(".msg--bot", has_text="早九晚五。").wait_for()
        await page.wait_for_function("document.getElementById('send').textContent === '发送'")
        assert await page.get_attribute("#input", "placeholder") == "请输入消息…"
        assert await page.evaluate("document.documentElement.lang") == "zh"
        await page.reload()  # the conversation's language is remembered
        await page.wait_for_selector("#status.status--online")
        assert await page.inner_text("#status") == "在线"
        await context.close()
