"""Screenshots of every console page at 1280x800 and 375x700, for docs/console.md.

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python -m tests.console.screenshots docs/console

Starts a hub with the demo FAQ and a few rules, plays some webchat conversations
(an answered one, a hand-off, an unanswered one, one with markup in it), signs in
and photographs each page. Not a test: run it after changing a page, and look.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

from hub.envelope import InboundMessage
from tests.browser import chromium
from tests.console.admin import PASSWORDS, console_config, hashes
from tests.harness import WebchatClient, running_hub

ROOT = Path(__file__).parents[2]
RULES = [
    {"name": "greeting", "keywords": ["hello", "hi"], "action": "reply",
     "text": "Hello! Ask me about orders, returns or shipping."},
    {"name": "agent", "keywords": ["agent"], "action": "handoff", "queue": "support"},
]
CUSTOMERS = [
    ["hello", "how long does shipping take?"],
    ["can I pay with paypal?", "do you sell gift cards for the moon?"],
    ["<b>bold</b> <script>alert(1)</script> is my parcel a snail?", "agent please"],
    ["I forgot my login"],
    ["what about tents on mars", "nothing?"],
]
PAGES = ["conversations", "transcript", "attention", "try", "numbers", "experiments", "privacy",
         "audit", "login"]
EXPERIMENTS = [{"name": "kb-threshold", "metric": "deflection", "variants": [
    {"name": "control", "weight": 80},
    {"name": "lower", "weight": 20, "overrides": {"kb.threshold": 0.3}}]}]
EXTRA = {"experiments": EXPERIMENTS} if os.environ.get("SHOOT_EXPERIMENTS", "1") == "1" else {}
SIZES = {"desktop": (1280, 800), "phone": (375, 700)}


async def shoot(out: Path) -> None:
    for name, value in hashes().items():
        os.environ.setdefault(name, value)
    work = Path(tempfile.mkdtemp())
    faq = work / "faq.toml"
    shutil.copy(ROOT / "kb" / "faq.toml", faq)
    config = console_config(rules=RULES, kb={"enabled": True, "path": str(faq), "documents": []},
                            **EXTRA)
    async with running_hub(config) as hub:
        for number, lines in enumerate(CUSTOMERS):
            async with WebchatClient.connect(hub.url) as chat:
                for line in lines:
                    reply = await chat.say(line)
                    if reply.get("rating") == "thumbs":  # rate some answers, down now and then
                        value = -1 if number % 2 else 1
                        await chat.send({"type": "rating", "message_id": reply["id"],
                                         "value": value, "kind": "thumbs"})
                await chat.silence(0.3)
        for i in range(60):  # customers for the experiment's numbers
            await hub.hub.submit(InboundMessage(
                channel="webchat", conversation_id=f"shot-{i}", user_id=f"customer-{i}",
                message_id=f"shot-{i}", text=("how long does shipping take?", "hello", "tents on mars?")[i % 3]))
        await hub.hub.drain()
        first = (await hub.hub.store.list_conversations(limit=100))[-1]
        async with chromium() as browser:
            for size, (width, height) in SIZES.items():
                context = await browser.new_context(viewport={"width": width, "height": height})
                page = await context.new_page()
                await page.goto(hub.url + "/admin/login")
                await page.screenshot(path=str(out / f"login-{size}.png"))
                await page.fill("input[name=name]", "ops")
                await page.fill("input[name=password]", PASSWORDS["ops"])
                await page.click("button[type=submit]")
                await page.wait_for_url("**/admin/conversations")
                for name in PAGES[:-1]:
                    path = f"conversations/{first.id}" if name == "transcript" else name
                    await page.goto(f"{hub.url}/admin/{path}")
                    if name == "try":
                        await page.fill("textarea[name=text]", "when will my parcel arrive?")
                        await page.click("#ask")
                        await page.locator("#result").wait_for()
                    await page.screenshot(path=str(out / f"{name}-{size}.png"))
                await context.close()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(target))
    print(f"screenshots in {target}")
