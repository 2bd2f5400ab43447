"""The chat page's rating buttons, in Debian's Chromium (Playwright)."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.test_webchat_browser import browser, send  # noqa: F401
from tests.channel_faq import write_channel_faq
from tests.feedback.helpers import RatingsSeen
from tests.harness import make_config, running_hub


async def test_thumbs_down_on_the_page_is_stored(browser, tmp_path: Path) -> None:  # noqa: F811
    config = make_config(kb={"enabled": True, "path": str(write_channel_faq(tmp_path))})
    async with running_hub(config) as hub:
        seen = RatingsSeen(hub)
        page = await browser.new_page()
        await page.goto(hub.url + "/")
        await page.wait_for_selector("#status.status--online")
        await send(page, "can I pay with paypal")
        await page.locator(".msg--bot", has_text="PayPal").wait_for()
        down = page.get_by_role("button", name="Not helpful")
        await down.click()
        [rating] = await seen.wait(1)
        assert (rating.kind, rating.value, rating.stage) == ("thumbs", -1, "kb")
        assert await down.is_disabled()
        assert "rating__chosen" in (await down.get_attribute("class") or "")
        await page.close()
