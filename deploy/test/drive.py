"""`make image-test`'s customer: webchat through the proxy, one hub killed, the
conversation goes on. Run by image-test.sh once the stack is healthy.

    python deploy/test/drive.py --proxy URL --hub NAME=URL --hub NAME=URL [--prometheus URL]

NAME is the hub's container; the one holding the customer's WebSocket is killed
(``docker kill``: SIGKILL, no drain) and the customer reconnects through the proxy
with the same session token, as the page does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import aiohttp

from tests.harness import WebchatClient

GREETING = "Hi! I'm the Northwind assistant."
THANKS = "You're welcome!"


def say(line: str) -> None:
    print(f"image-test: {line}", flush=True)


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return await resp.json()


async def prometheus_sees_both_hubs(base: str, hubs: dict[str, str], timeout: float = 90) -> None:
    """Both hubs scraped and up, the alert rules loaded."""
    wanted = {url.removeprefix("http://") for url in hubs.values()}
    deadline = time.monotonic() + timeout
    while True:
        targets = (await get_json(f"{base}/api/v1/targets"))["data"]["activeTargets"]
        up = {t["labels"]["instance"] for t in targets if t["health"] == "up"}
        if wanted <= up:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"prometheus: targets up {sorted(up)}, wanted {sorted(wanted)}")
        await asyncio.sleep(1)
    groups = (await get_json(f"{base}/api/v1/rules"))["data"]["groups"]
    rules = [rule["name"] for group in groups for rule in group["rules"]]
    assert len(rules) >= 7, rules
    say(f"prometheus scrapes {len(up)} hubs (both up) and has loaded {len(rules)} alert rules")


async def webchat_messages(hub_url: str) -> float:
    """switchboard_messages_in_total{channel="webchat"} on one hub."""
    async with aiohttp.ClientSession() as http, http.get(f"{hub_url}/metrics") as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith('switchboard_messages_in_total{channel="webchat"}'):
            return float(line.split()[-1])
    return 0.0


async def ask(chat: WebchatClient, text: str, timeout: float) -> dict[str, Any]:
    """Send a message and wait up to ``timeout`` for the reply to it."""
    client_id = f"m{time.monotonic_ns()}"
    await chat.send({"type": "message", "id": client_id, "text": text})
    return await chat.expect("message", timeout=timeout, reply_to=client_id)


async def closed(chat: WebchatClient, timeout: float) -> bool:
    """True once the server side of the socket goes away."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await chat.ws.receive(timeout=deadline - time.monotonic())
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
            return True
    return False


async def before_the_kill(proxy: str, hubs: dict[str, str]) -> tuple[str, str, list[str]]:
    """Talk through the proxy; then kill the hub holding the socket. The token, the
    killed container and what was said."""
    said = ["hello", "How do I return an item?"]
    async with WebchatClient.connect(proxy) as chat:
        greeting = await chat.say(said[0])
        assert greeting["text"].startswith(GREETING), greeting
        answer = await chat.say(said[1])
        assert answer["text"], answer
        say(f"through the proxy: {said[0]!r} -> {greeting['text'][:50]!r}...")
        say(f"through the proxy: {said[1]!r} -> {answer['text'][:50]!r}...")
        counts = {name: await webchat_messages(url) for name, url in hubs.items()}
        holder = max(counts, key=counts.__getitem__)
        assert counts[holder] == len(said), counts
        say(f"the socket is on {holder} (messages in per hub: {counts}); docker kill {holder}")
        kill = await asyncio.create_subprocess_exec("docker", "kill", holder,
                                                    stdout=asyncio.subprocess.DEVNULL)
        assert await kill.wait() == 0, f"docker kill {holder} failed"
        assert await closed(chat, 15), "the killed hub's socket did not close"
        say("the customer's socket closed; reconnecting through the proxy with the same token")
        assert chat.session is not None
        return chat.session, holder, said


async def after_the_kill(proxy: str, token: str, said: list[str]) -> None:
    started = time.monotonic()
    async with WebchatClient.connect(proxy, session=token) as chat:
        assert chat.session_id == token.partition(".")[0], "a new session, not the same one"
        history = [line.get("text", "") for line in chat.history]
        assert all(text in history for text in said), history
        say(f"resumed the same session on the surviving hub: {len(history)} lines of history")
        reply = await ask(chat, "thanks", 60)
        assert reply["text"].startswith(THANKS), reply
        say(f"'thanks' -> {reply['text'][:40]!r}... answered "
            f"{time.monotonic() - started:.1f} s after the reconnect")
        for question in ("Can I pay with PayPal?", "hi"):
            reply = await ask(chat, question, 30)
            assert reply["text"], reply
        say("two more messages answered: the conversation goes on")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--proxy", required=True)
    parser.add_argument("--hub", action="append", required=True, metavar="CONTAINER=URL")
    parser.add_argument("--prometheus")
    ns = parser.parse_args(argv)
    hubs = dict(item.split("=", 1) for item in ns.hub)
    if ns.prometheus:
        await prometheus_sees_both_hubs(ns.prometheus, hubs)
    token, killed, said = await before_the_kill(ns.proxy, hubs)
    await after_the_kill(ns.proxy, token, said)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
