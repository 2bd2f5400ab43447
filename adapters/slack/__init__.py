"""Slack channel: customers in DMs, mentions and listed channels (Events API or Socket Mode)."""

from adapters.slack.adapter import ActionHandler, AgentEventHandler, SlackAdapter
from adapters.slack.blocks import escape, split_text, to_platform
from adapters.slack.inbound import action_to_envelope, to_envelope

__all__ = [
    "ActionHandler",
    "AgentEventHandler",
    "SlackAdapter",
    "action_to_envelope",
    "escape",
    "split_text",
    "to_envelope",
    "to_platform",
]
