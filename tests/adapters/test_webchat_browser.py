"""The chat page in a real browser: Playwright driving Debian's Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

from tests.harness import make_config, running_hub

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RULES = [
    {"name": "hours", "keywords": ["hours"], "action": "reply", "text": "Nine to five.",
     "buttons": [{"label": "Weekends?", "value": "weekend opening"}]},
    {"name": "weekend", "keywords": ["weekend"], "action": "reply", "text": "Closed on weekends."},
]


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required under CI (make test installs it)")
        pytest.skip("no chromium; run `make browser`")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-quic"],
        )
        try:
            yield browser
        finally:
            await browser.close()


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
