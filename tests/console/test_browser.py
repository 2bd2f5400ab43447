"""The console in a real browser (Playwright, Debian's Chromium): sign-in, the live list,
the trace, and an unanswered question turned into an FAQ example that then answers."""

from __future__ import annotations

from pathlib import Path

from tests.channel_faq import write_channel_faq
from tests.console.admin import PASSWORDS, console_config
from tests.harness import WebchatClient, running_hub

RULES = [{"name": "hours", "keywords": ["hours"], "action": "reply", "text": "Nine to five."}]
SLOW_MS = 60_000  # generous: the machine is shared and loaded


async def sign_in(page, url: str, name: str = "ops", password: str | None = None) -> None:  # noqa: ANN001
    await page.goto(url + "/admin/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password or PASSWORDS[name])
    await page.click("button[type=submit]")


async def test_sign_in_wrong_password_and_rate_limit(browser) -> None:  # noqa: ANN001
    config = console_config(admin={"users": [{"name": "ops", "password_hash_env": "TEST_ADMIN_OPS_HASH"}],
                                   "login_attempts_per_min": 3})
    async with running_hub(config) as hub:
        page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
        await page.goto(hub.url + "/admin/conversations")
        assert page.url.endswith("/admin/login")  # no session: sent to sign in
        for _ in range(2):
            await sign_in(page, hub.url, password="not it")
            assert await page.locator(".error").inner_text() == "Wrong name or password."
        await sign_in(page, hub.url)  # the third attempt, right: in
        await page.locator("h1", has_text="Conversations").wait_for()
        await page.click("text=Sign out")
        await page.locator("h1", has_text="Operators' console").wait_for()
        await sign_in(page, hub.url)  # a fourth within the minute: refused, even right
        assert "Too many attempts" in await page.locator(".error").inner_text()
        actions = [r.action for r in await hub.hub.store.audit_log(limit=10)]
        assert actions[:5] == ["sign-in refused", "sign-out", "sign-in", "sign-in failed", "sign-in failed"]


async def test_conversation_appears_live_and_its_transcript_shows_the_trace(browser) -> None:  # noqa: ANN001
    async with running_hub(console_config(rules=RULES)) as hub:
        page = await (await browser.new_context(viewport={"width": 375, "height": 700})).new_page()
        await sign_in(page, hub.url)
        await page.locator("#conversations").wait_for()
        assert await page.locator("#conversations tr.row").count() == 0
        async with WebchatClient.connect(hub.url) as chat:
            await chat.say("what are your <b>hours</b>?")
        # no reload: the list's script polls and the row appears
        row = page.locator("#conversations tr.row", has_text="Nine to five.")
        await row.wait_for(timeout=SLOW_MS)
        await row.locator("a").first.click()
        await page.locator(".line-customer .text", has_text="what are your <b>hours</b>?").wait_for()
        trace = page.locator(".line-bot .trace")
        assert "rule 'hours' matched" in await trace.locator("summary").inner_text()
        assert "hours" in await trace.locator(".evidence").inner_text()
        assert "language: en" in await trace.locator(".steps").inner_text()


async def test_unanswered_question_becomes_an_example_and_is_then_answered(
    browser, tmp_path: Path  # noqa: ANN001
) -> None:
    faq = write_channel_faq(tmp_path)
    config = console_config(kb={"enabled": True, "path": str(faq), "documents": []})
    question = "is my parcel a snail"
    async with running_hub(config) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            first = await chat.say(question, id="q1")
        assert first.get("stage", "") != "kb"
        page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
        await sign_in(page, hub.url)
        await page.goto(hub.url + "/admin/attention")
        failure = page.locator("#group-unanswered .failure", has_text=question)
        await failure.wait_for()
        await failure.locator("select[name=entry]").select_option("shipping-times")
        await failure.locator("button", has_text="Preview").click()
        diff = await page.locator("pre.diff").inner_text()
        assert f'+    "{question}",' in diff.splitlines()
        await page.click("#save-faq")
        await page.locator("h1", has_text="Needs attention").wait_for()
        assert question in faq.read_text()
        assert list((tmp_path / ".backups").iterdir())
        # the file watch retrains the matcher: Try it until the KB answers
        await page.goto(hub.url + "/admin/try")
        deadline = SLOW_MS
        while True:
            await page.fill("textarea[name=text]", question)
            await page.click("#ask")
            stage = await page.locator("#result-stage").inner_text()
            if stage == "kb":
                break
            deadline -= 250
            assert deadline > 0, "the matcher never learnt the new example"
            await page.wait_for_timeout(250)
        assert "shipping-times" in await page.locator("#result-reason").inner_text()
        async with WebchatClient.connect(hub.url) as chat:
            again = await chat.say(question, id="q2")
        assert again["text"] == "Two to four working days."
        assert "faq edit" in [r.action for r in await hub.hub.store.audit_log(limit=5)]



async def test_thumbs_down_on_the_chat_page_shows_under_needs_attention(
    browser, tmp_path: Path  # noqa: ANN001
) -> None:
    faq = write_channel_faq(tmp_path)
    config = console_config(kb={"enabled": True, "path": str(faq), "documents": []})
    async with running_hub(config) as hub:
        context = await browser.new_context(viewport={"width": 375, "height": 700})
        chat = await context.new_page()
        await chat.goto(hub.url + "/")
        await chat.wait_for_selector("#status.status--online")
        await chat.fill("#input", "do you take credit cards")
        await chat.press("#input", "Enter")
        await chat.locator(".msg--bot", has_text="PayPal").wait_for(timeout=SLOW_MS)
        await chat.locator(".rating--thumbs [aria-label='Not helpful']").last.click()
        console = await context.new_page()
        await sign_in(console, hub.url)
        deadline = SLOW_MS
        while True:  # the rating goes through the ingress: look until it is counted
            await console.goto(hub.url + "/admin/attention")
            found = console.locator("#group-down .failure", has_text="do you take credit cards")
            if await found.count():
                break
            deadline -= 250
            assert deadline > 0, "the thumbs-down never showed"
            await console.wait_for_timeout(250)
        assert await found.locator("select[name=entry]").input_value() == "payment-methods"


async def test_experiment_page_splits_400_customers_as_configured(browser) -> None:  # noqa: ANN001
    import math

    from hub.envelope import InboundMessage

    experiments = [{"name": "greeting-copy", "metric": "deflection", "variants": [
        {"name": "control", "weight": 80}, {"name": "canary", "weight": 20}]}]
    async with running_hub(console_config(rules=RULES, experiments=experiments)) as hub:
        for i in range(400):
            await hub.hub.submit(InboundMessage(
                channel="webchat", conversation_id=f"sim-{i}", user_id=f"customer-{i}",
                message_id=f"m-{i}", text="hours?"))
        await hub.hub.drain()
        page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
        await sign_in(page, hub.url)
        await page.goto(hub.url + "/admin/experiments")
        rows = page.locator("#experiment-greeting-copy tr.variant")
        counts = {await r.get_attribute("data-variant"): int(await r.get_attribute("data-conversations"))
                  for r in await rows.all()}
        assert sum(counts.values()) == 400
        sd = math.sqrt(400 * 0.2 * 0.8)  # binomial: 8 customers
        assert abs(counts["canary"] - 80) <= 4 * sd, counts  # 4 sd: fails once in ~16,000 seeds
        assert "not yet significant" in (await page.locator(".verdict").inner_text()).lower() \
            or "better" in (await page.locator(".verdict").inner_text()).lower()


async def forget_in_the_browser(browser, hub, store) -> None:  # noqa: ANN001
    async with WebchatClient.connect(hub.url) as chat:
        await chat.say("what are your hours?")
    await hub.hub.drain()
    (summary,) = await store.list_conversations()
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in(page, hub.url)
    await page.goto(f"{hub.url}/admin/conversations/{summary.id}")
    await page.click("button.danger")
    await page.locator("#forgotten").wait_for()
    assert "1 conversations" in await page.locator("#forgotten").inner_text()
    assert await store.get_conversation(summary.id) is None
    assert await store.transcript(summary.id) == []
    assert await store.conversation_summary(summary.id) is None
    assert await store.customer_conversations(summary.channel, summary.user) == []
    assert await store.list_conversations() == []
    assert "privacy.forget" in [r.action for r in await store.audit_log(limit=5)]
    return summary.id


async def test_forget_removes_the_customer_from_the_memory_store(browser) -> None:  # noqa: ANN001
    async with running_hub(console_config(rules=RULES)) as hub:
        await forget_in_the_browser(browser, hub, hub.hub.store)


async def test_forget_removes_the_customer_from_the_redis_store(browser, redis_url: str) -> None:  # noqa: ANN001
    from hub.store.redis import RedisStore

    store = RedisStore.from_url(redis_url)
    try:
        async with running_hub(console_config(rules=RULES, store={"url": redis_url}), store=store) as hub:
            conversation_id = await forget_in_the_browser(browser, hub, store)
            left = [key async for key in store.redis.scan_iter(match=f"*{conversation_id}*")]
            assert left == []
            assert await redis_values_with(store.redis, ("what are your hours", "Nine to five")) == []
    finally:
        await store.close()


async def redis_values_with(redis, texts: tuple[str, ...]) -> list[str]:  # noqa: ANN001
    """Every key whose value (string, hash, list, set, sorted set or stream) holds one of ``texts``."""
    readers = {
        "string": redis.get, "hash": redis.hgetall, "set": redis.smembers,
        "list": lambda key: redis.lrange(key, 0, -1), "zset": lambda key: redis.zrange(key, 0, -1),
        "stream": redis.xrange,
    }
    found = []
    async for key in redis.scan_iter():
        kind = await redis.type(key)
        value = str(await readers[kind](key)) if kind in readers else ""
        if any(text in value for text in texts):
            found.append(key)
    return found
