"""The agents channel in Slack: the Slack face of the hand-off desk.

One message per escalation in ``[handoff] agents_channel`` with Block Kit
buttons (Claim, Resolve, Return to bot); everything after it (customer
messages, status changes, reminders) goes in that message's thread, and the
top message is updated to show the state. A person posting in the thread
replies to the customer, unless the post starts with the note prefix. Only
agents (the ``[handoff] agents`` allow-list when set, otherwise members of
the agents channel) may act; anyone else gets an ephemeral refusal.

:class:`SlackAgents` implements :class:`~hub.handoff.AgentBoard` and takes
the Slack adapter's raw agent-channel events and ``handoff_*`` button presses.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import escape
from hub.conversation import TranscriptEntry
from hub.envelope import InboundMessage
from hub.errors import DeliveryError
from hub.handoff import Agent, Escalation, HandoffDesk
from hub.ingress import AgentAction
from hub.language import language_name

__all__ = [
    "ACTION_PREFIX",
    "SlackAgents",
    "escalation_blocks",
    "escape",
    "plain_text",
    "status_line",
]

logger = logging.getLogger(__name__)

ACTION_PREFIX = "handoff_"
MEMBERS_TTL_S = 60.0
SECTION_LIMIT = 2900
THREAD_SUBTYPES = {None, "thread_broadcast", "file_share"}

NOT_AN_AGENT = "Only members of the agents channel can claim, resolve or answer escalations."
CLOSED = "This conversation is already closed; nothing was sent to the customer."

T = TypeVar("T")


# -- pure formatting -------------------------------------------------------------------


_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]+))?>")


def plain_text(mrkdwn: str) -> str:
    """An agent's Slack message as plain text for the customer."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#", "!")):
            return label or target
        return f"{label} ({target})" if label and label != target else target

    text = _LINK.sub(link, mrkdwn)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def status_line(escalation: Escalation) -> str:
    """The escalation's state in words, as shown on its top message."""
    name = escape(escalation.agent_name or escalation.closed_by)
    return {
        "waiting": ":hourglass_flowing_sand: Waiting for an agent",
        "claimed": f":raising_hand: Claimed by {name}",
        "resolved": f":white_check_mark: Resolved by {escape(escalation.closed_by)}",
        "returned": f":robot_face: Returned to the bot by {escape(escalation.closed_by)}",
    }[escalation.status]


def _transcript_text(entries: Sequence[TranscriptEntry], customer: str) -> str:
    lines = []
    for entry in entries:
        who = customer if entry.sender == "customer" else (entry.sender_name or entry.sender)
        lines.append(f"*{escape(who)}:* {escape(entry.text)}")
    text = "\n".join(lines)
    return text if len(text) <= SECTION_LIMIT else "…" + text[-SECTION_LIMIT:]


def _button(label: str, action: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": f"{ACTION_PREFIX}{action}",
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def escalation_blocks(
    escalation: Escalation, transcript: Sequence[TranscriptEntry] = ()
) -> list[dict[str, Any]]:
    """Block Kit for an escalation's top message: who, why, state, last messages, buttons."""
    title = f"{escalation.customer} on {escalation.channel} needs a person"
    facts = f"*Reason:* {escape(escalation.reason)}"
    if escalation.queue:
        facts += f"\n*Queue:* {escape(escalation.queue)}"
    if escalation.language:
        facts += f"\n*Language:* {escape(language_label(escalation.language))}"
    if escalation.gist:
        facts += f"\n*Gist (English):* {escape(escalation.gist)}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Status:* {status_line(escalation)}"}},
    ]
    if transcript:
        text = _transcript_text(transcript, escalation.customer)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if escalation.open:
        value = escalation.conversation_id
        blocks.append(
            {
                "type": "actions",
                "block_id": "handoff_actions",
                "elements": [
                    _button("Claim", "claim", value, "primary"),
                    _button("Resolve", "resolve", value),
                    _button("Return to bot", "return", value, "danger"),
                ],
            }
        )
    return blocks


def language_label(code: str) -> str:
    """"zh" -> "Chinese (zh)": the language an agent will have to answer in."""
    return f"{language_name(code)} ({code})"


def _fallback(escalation: Escalation) -> str:
    return (
        f"{escalation.customer} on {escalation.channel} needs a person "
        f"({escalation.reason}) - {escalation.status}"
    )


# -- the board ---------------------------------------------------------------------------


async def _slack(call: Coroutine[Any, Any, T], what: str) -> T:
    """Run one Web API call; Slack and network errors become DeliveryError."""
    try:
        return await call
    except SlackApiError as exc:
        raise DeliveryError(f"slack {what}: {exc.response.get('error')}") from exc
    except (TimeoutError, SlackClientError, aiohttp.ClientError) as exc:
        raise DeliveryError(f"slack {what}: {type(exc).__name__}") from exc


class SlackAgents:
    """The desk's board in Slack, and the handler of agents' events and buttons."""

    name = "slack_agents"

    def __init__(self, client: AsyncWebClient, desk: HandoffDesk) -> None:
        self.client = client
        self.desk = desk
        self._members: tuple[float, str, frozenset[str]] = (0.0, "", frozenset())
        self._names: dict[str, str] = {}

    @classmethod
    def attach(cls, slack: Any, desk: HandoffDesk) -> SlackAgents:
        """Take the Slack adapter's agent-channel events and hand-off buttons."""
        agents = cls(slack.client, desk)
        slack.on_agent_event(agents.on_event)
        slack.on_action(ACTION_PREFIX, agents.on_action)
        return agents

    @property
    def agents_channel(self) -> str:
        return self.desk.config.agents_channel

    # -- AgentBoard --------------------------------------------------------------------
    async def announce(
        self, escalation: Escalation, transcript: Sequence[TranscriptEntry]
    ) -> tuple[str, str]:
        channel = self.agents_channel
        response = await _slack(
            self.client.chat_postMessage(
                channel=channel,
                text=_fallback(escalation),
                blocks=escalation_blocks(escalation, transcript),
            ),
            "chat.postMessage",
        )
        return str(response["channel"]), str(response["ts"])

    async def refresh(self, escalation: Escalation) -> None:
        transcript = await self._excerpt(escalation)
        await _slack(
            self.client.chat_update(
                channel=escalation.board_channel,
                ts=escalation.thread,
                text=_fallback(escalation),
                blocks=escalation_blocks(escalation, transcript),
            ),
            "chat.update",
        )

    async def _excerpt(self, escalation: Escalation) -> list[TranscriptEntry]:
        """The transcript as it was when the conversation was escalated."""
        limit = self.desk.config.transcript_lines
        if not limit:
            return []
        entries = await self.desk.store.transcript(escalation.conversation_id)
        return [e for e in entries if e.timestamp <= escalation.created_at][-limit:]

    async def customer_message(self, escalation: Escalation, message: InboundMessage) -> None:
        text = f"*{escape(escalation.customer)}:* {escape(message.text)}"
        if message.edit_of is not None:
            text += " _(edited)_"
        for attachment in message.attachments:
            text += f"\n_(sent a {escape(attachment.kind)}: {escape(attachment.name or attachment.ref)})_"
        await self._thread_post(escalation, text)

    async def notice(self, escalation: Escalation, text: str, *, loud: bool = False) -> None:
        await self._thread_post(escalation, f"_{escape(text)}_", broadcast=loud)

    async def _thread_post(self, escalation: Escalation, text: str, broadcast: bool = False) -> None:
        await _slack(
            self.client.chat_postMessage(
                channel=escalation.board_channel,
                thread_ts=escalation.thread,
                text=text,
                reply_broadcast=broadcast,
            ),
            "chat.postMessage",
        )

    # -- who may act -----------------------------------------------------------------
    async def is_agent(self, user_id: str) -> bool:
        allow = self.desk.config.agents
        if allow:
            return user_id in allow
        return user_id in await self._channel_members()

    async def _channel_members(self) -> frozenset[str]:
        expires, channel, members = self._members
        if channel == self.agents_channel and time.monotonic() < expires:
            return members
        found: set[str] = set()
        cursor = None
        while True:
            page = await _slack(
                self.client.conversations_members(channel=self.agents_channel, cursor=cursor),
                "conversations.members",
            )
            found.update(page.get("members") or ())
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        members = frozenset(found)
        self._members = (time.monotonic() + MEMBERS_TTL_S, self.agents_channel, members)
        return members

    async def agent(self, user_id: str) -> Agent:
        """The Slack user as an agent, with their display name (cached)."""
        name = self._names.get(user_id)
        if name is None:
            try:
                info = await _slack(self.client.users_info(user=user_id), "users.info")
                user = info.get("user") or {}
                profile = user.get("profile") or {}
                name = profile.get("display_name") or user.get("real_name") or user.get("name")
            except DeliveryError as exc:
                logger.warning("no display name for an agent: %s", exc)
            name = name or "Support agent"
            self._names[user_id] = name
        return Agent(id=user_id, name=name)

    async def _refuse(self, channel: str, user: str, text: str, thread: str | None = None) -> None:
        try:
            await _slack(
                self.client.chat_postEphemeral(
                    channel=channel, user=user, text=text, thread_ts=thread
                ),
                "chat.postEphemeral",
            )
        except DeliveryError as exc:
            logger.warning("ephemeral refusal not shown: %s", exc)

    # -- from Slack ------------------------------------------------------------------
    async def on_event(self, event: dict[str, Any]) -> None:
        """A ``message`` event in the agents channel: replies and notes in threads."""
        thread = event.get("thread_ts")
        user = event.get("user")
        if event.get("bot_id") or event.get("subtype") not in THREAD_SUBTYPES:
            return
        if not user or not thread or thread == event.get("ts"):
            return
        channel = str(event.get("channel", ""))
        escalation = await self.desk.escalation_for_thread(channel, str(thread))
        if escalation is None:
            return
        text = str(event.get("text") or "")
        if text.strip().casefold().startswith(self.desk.config.note_prefix.casefold()):
            logger.info("internal note on %s kept in Slack", escalation.conversation_id)
            return
        ts = str(event.get("ts", ""))
        await self._reply(escalation, channel, user, str(thread), ts, plain_text(text))

    async def _reply(
        self, escalation: Escalation, channel: str, user: str, thread: str, ts: str, text: str
    ) -> None:
        """Checked here, at the edge; relayed by the desk from the durable ingress."""
        if not await self._allowed(channel, user, thread):
            return
        if not text:
            return
        if not escalation.open:
            await self._refuse(channel, user, CLOSED, thread)
            return
        agent = await self.agent(user)
        await self.desk.submit(AgentAction(
            verb="reply", conversation_id=escalation.conversation_id, address=escalation.address,
            agent_id=agent.id, agent_name=agent.name, event_id=f"slack:{channel}:{ts}", text=text,
        ))

    async def on_action(self, body: dict[str, Any]) -> None:
        """A Claim, Resolve or Return to bot button press on an escalation."""
        action = (body.get("actions") or [{}])[0]
        kind = str(action.get("action_id", "")).removeprefix(ACTION_PREFIX)
        conversation_id = str(action.get("value", ""))
        user = str((body.get("user") or {}).get("id", ""))
        channel = str((body.get("channel") or {}).get("id") or self.agents_channel)
        if kind not in ("claim", "resolve", "return") or not await self._allowed(channel, user):
            return
        escalation = await self.desk.escalation(conversation_id)
        if escalation is None or not escalation.open:
            await self._refuse(channel, user, CLOSED)
            return
        agent = await self.agent(user)
        event = str(action.get("action_ts") or body.get("trigger_id") or "")
        await self.desk.submit(AgentAction(
            verb=kind,  # type: ignore[arg-type]
            conversation_id=conversation_id, address=escalation.address,
            agent_id=agent.id, agent_name=agent.name, event_id=f"slack-action:{user}:{event}",
        ))

    async def _allowed(self, channel: str, user: str, thread: str | None = None) -> bool:
        try:
            allowed = await self.is_agent(user)
        except DeliveryError as exc:
            logger.error("could not check the agents channel members: %s", exc)
            allowed = False
        if not allowed:
            await self._refuse(channel, user, NOT_AN_AGENT, thread)
        return allowed
