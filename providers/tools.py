"""Actions offered to the LLM tiers as tools (function calling).

An ``[actions.NAME]`` with a ``description`` (and ``params``) is a tool. When
a turn reaches the LLM and tools exist, :meth:`ToolBox.complete` asks the
tier with the tools attached (in the OpenAI format; litellm translates them for
the Anthropic- and Ollama-style models it serves). Each ``tool_call`` the model makes runs the action
(:mod:`flows.actions`: the same signing, retries, breaker and metrics as
flows); the result is scrubbed of personal data (:func:`providers.pii.scrub`)
before it goes back to the provider, and is kept on the turn as a grounding
candidate ``tool:NAME``, so the answer may cite it. At most
``[llm] max_tool_calls`` calls run per turn; after that the model must answer.
The cost of every round is summed into the one completion the stage records
against the conversation's budget. With tools the answer is not streamed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flows.actions import Actions, idempotency_key
from flows.config import ActionConfig
from flows.errors import ActionFailed, NotFound
from hub.stages import Candidate, Turn
from providers.pii import scrub

if TYPE_CHECKING:
    from hub.config import LLMTierConfig
    from providers.router import Completion, TierRouter
    from providers.wire import Reply, ToolCall

__all__ = ["TOOL_PREFIX", "ToolBox", "tool_specs", "used_tools"]

logger = logging.getLogger(__name__)

TOOL_PREFIX = "tool:"
TOOLS_NOTE = (
    "You may call the tools offered to look up facts in the shop's systems. A tool's "
    "result counts as a reference answer: cite it in \"sources\" as \"tool:<name>\". "
    "If a tool reports an error, say you could not check and offer a person."
)


def tool_specs(actions: dict[str, ActionConfig]) -> list[dict[str, Any]]:
    """The OpenAI-style ``tools`` list for every action that has a description."""
    return [_spec(name, action) for name, action in sorted(actions.items()) if action.is_tool]


def _spec(name: str, action: ActionConfig) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in action.params:
        found = action.param(param)
        schema: dict[str, Any] = {"type": found.type}
        if found.description:
            schema["description"] = found.description
        if found.enum:
            schema["enum"] = list(found.enum)
        properties[param] = schema
        if found.required:
            required.append(param)
    parameters = {"type": "object", "properties": properties, "required": required}
    return {"type": "function",
            "function": {"name": name, "description": action.description, "parameters": parameters}}


def used_tools(turn: Turn) -> int:
    """How many tool calls this turn has run (their results are candidates)."""
    return sum(1 for c in turn.candidates if c.id.startswith(TOOL_PREFIX))


class ToolBox:
    """Runs the tool-calling loop for one tier's answer."""

    def __init__(self, actions: Actions) -> None:
        self.actions = actions

    async def complete(
        self,
        router: TierRouter,
        tier: LLMTierConfig,
        messages: list[dict[str, Any]],
        turn: Turn,
        on_text: Any = None,
    ) -> Completion:
        """The tier's final answer, after the tool calls it asked for."""
        specs = tool_specs(turn.config.actions)
        if not specs:
            return await router.complete(tier, messages, on_text)
        limit = turn.config.llm.max_tool_calls
        conversation = _with_note(messages)
        spent: list[Completion] = []
        while True:
            allow = used_tools(turn) < limit
            reply, done = await _ask(router, tier, conversation, specs, allow)
            spent.append(done)
            calls = list(reply.tool_calls)
            if not calls or not allow:
                return _summed(done, spent)
            conversation.append(_assistant(reply, calls))
            for call in calls:
                conversation.append(await self._run(turn, call, limit))

    async def _run(self, turn: Turn, call: ToolCall, limit: int) -> dict[str, Any]:
        name = call.name
        if used_tools(turn) >= limit:
            result: dict[str, Any] = {"error": f"at most {limit} tool calls per question"}
        else:
            result = await self._call(turn, name, call.arguments)
            turn.candidates.append(
                Candidate(f"{TOOL_PREFIX}{name}", f"{name} result", _scrubbed(result), 1.0)
            )
            turn.note(f"llm: tool {name} called ({'error' if 'error' in result else 'ok'})")
        return {"role": "tool", "tool_call_id": call.id, "content": _scrubbed(result)}

    async def _call(self, turn: Turn, name: str, arguments: Any) -> dict[str, Any]:
        action = turn.config.actions.get(name)
        if action is None or not action.is_tool:
            return {"error": f"no tool named {name!r}"}
        try:
            args = json.loads(arguments or "{}")
        except (TypeError, json.JSONDecodeError):
            return {"error": "the arguments were not valid JSON"}
        if not isinstance(args, dict):
            return {"error": "the arguments must be a JSON object"}
        if action.params:
            args = {k: v for k, v in args.items() if k in action.params}
        key = idempotency_key(
            turn.conversation.id, turn.message.message_id, "llm", f"{name}#{used_tools(turn)}"
        )
        try:
            result = await self.actions.call(name, action, args, idempotency_key=key)
        except NotFound:
            return {"error": "not found"}
        except ActionFailed as exc:
            return {"error": f"the shop's system did not answer ({exc.outcome})"}
        return dict(result.data)


async def _ask(
    router: TierRouter,
    tier: LLMTierConfig,
    messages: list[dict[str, Any]],
    specs: list[dict[str, Any]],
    allow: bool,
) -> tuple[Reply, Completion]:
    """One round with the tools attached (``tool_choice = "none"`` once the limit is hit)."""
    return await router.complete_tools(tier, messages, specs, "auto" if allow else "none")


def _with_note(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system":
        out[0]["content"] = f"{out[0]['content']}\n\n{TOOLS_NOTE}"
    return out


def _assistant(message: Reply, calls: Sequence[ToolCall]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": message.text or None,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ],
    }


def _scrubbed(result: dict[str, Any]) -> str:
    return scrub(json.dumps(result, ensure_ascii=False, sort_keys=True, default=str))


def _summed(final: Completion, rounds: list[Completion]) -> Completion:
    return replace(
        final,
        tokens_in=sum(r.tokens_in for r in rounds),
        tokens_out=sum(r.tokens_out for r in rounds),
        cost_usd=sum(r.cost_usd for r in rounds),
        priced=all(r.priced for r in rounds),
    )
