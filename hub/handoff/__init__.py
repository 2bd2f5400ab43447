"""Hand-off to human agents: the escalation desk and the stages around it.

The :class:`HandoffDesk` keeps one :class:`Escalation` per handed-off
conversation in the store (so a restart on Redis loses nothing) and talks to
the agents through an :class:`AgentBoard` (the Slack agents channel, see
``adapters/slack/agents.py``). Three pieces plug it into the hub:

- :class:`HandoffGate`, the FIRST stage: a conversation with a human goes to
  the agents' thread and nowhere else; a customer asking for a person (a
  phrase, the offered button, or angry enough when sentiment is on) is
  handed off before any rule, FAQ or model sees the message.
- :class:`HandoffStage`, the LAST stage: nothing else answered.
- :func:`offer_middleware`: after ``offer_after_failures`` unhelpful answers
  in a row, the bot's reply carries a "Talk to a person" button.

The desk applies any decision that carries a :class:`~hub.stages.HandoffRequest`
(rules, the LLM, the stages above) through ``hub.decision_listeners``.
"""

from hub.handoff.desk import HandoffDesk
from hub.handoff.escalation import Agent, AgentBoard, Escalation, queue_text, staffed
from hub.handoff.stages import (
    HandoffGate,
    HandoffStage,
    offer_middleware,
    unstaffed_middleware,
)

__all__ = [
    "Agent",
    "AgentBoard",
    "Escalation",
    "HandoffDesk",
    "HandoffGate",
    "HandoffStage",
    "offer_middleware",
    "queue_text",
    "staffed",
    "unstaffed_middleware",
]
