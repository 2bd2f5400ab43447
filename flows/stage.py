"""The ``flows`` stage: multi-turn conversations declared in config.toml.

It sits after the rules and before the knowledge base. For each turn:

1. A conversation in a flow (its :class:`~flows.state.FlowState` in the store,
   not idle past ``[flows] expire_after_s``) is continued: a cancel phrase ends
   the flow; otherwise the answer fills the waiting step's slot, or earns the
   step's ``retry`` text, and after ``max_retries`` bad answers a hand-off with
   what was collected.
2. Otherwise a flow asked for by a rule (``action = "flow"``) starts. A flow
   asked for by an FAQ entry (``flow = "NAME"``) starts in the
   :class:`FlowStarter` placed after the knowledge base.

Running a flow walks its steps until one needs the customer: ``ask`` steps
reply with their question (unless the slot is already known, or the message
that started the flow holds it), ``call`` steps run an action and keep its
JSON as ``result``, ``say`` steps add text and buttons, ``next`` picks the
next step (the following one by default), ``end`` finishes. An action that
fails ends the flow with ``failure_message`` and the offer of a person; an
action's "not found" asks the last question again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from flows.actions import ActionResult, Actions, idempotency_key
from flows.config import FlowConfig, FlowsConfig, StepConfig
from flows.errors import ActionFailed, NotFound
from flows.expect import read_slot
from flows.state import FlowState, FlowStates
from flows.templates import TemplateError, render, test
from hub.envelope import Button
from hub.stages import Decision, HandoffRequest, Turn
from hub.store import Store
from hub.text import phrase_regex
from providers.pii import scrub

if TYPE_CHECKING:
    from hub.hub import Handler, Middleware

__all__ = ["FlowStage", "FlowStarter", "flow_handoff_middleware", "idempotency_key"]

logger = logging.getLogger(__name__)

DEFAULT_RETRY = "Sorry, I didn't get that."
STAGE = "flows"


@dataclass
class _Run:
    """What one turn of a flow has said and done so far."""

    flow: FlowConfig
    state: FlowState
    texts: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    status: int | None = None

    def decision(self, reason: str, *, helped: bool = True, **extra: Any) -> Decision:
        details = {
            "flow": self.flow.name,
            "step": self.state.step,
            "slots": {k: scrub(str(v)) for k, v in self.state.slots.items()},
            "steps": list(self.trace),
            **extra,
        }
        return Decision(
            stage=STAGE,
            reason=f"flow {self.flow.name!r}: {reason}",
            text="\n\n".join(t for t in self.texts if t),
            buttons=tuple(self.buttons),
            details=details,
            helped=helped,
        )


class FlowStage:
    """Stage ``flows``; an async context manager that owns the actions' HTTP session."""

    name = STAGE

    def __init__(self, store: Store, actions: Actions) -> None:
        self.states = FlowStates(store)
        self.actions = actions

    async def __aenter__(self) -> FlowStage:
        await self.actions.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.actions.__aexit__(*exc_info)

    def starter(self) -> FlowStarter:
        """The stage that starts flows asked for by the knowledge base."""
        return FlowStarter(self)

    async def __call__(self, turn: Turn) -> Decision | None:
        state = await self._current(turn)
        if state is not None:
            flow = turn.config.flows.get(state.flow)
            assert flow is not None  # _current checked it
            if turn.flow and turn.flow != state.flow and not self._answers(turn, flow, state):
                turn.note(f"flows: left {state.flow!r} at {state.step!r} for {turn.flow!r}")
                return await self.start(turn)
            return await self._continue(turn, flow, state)
        if turn.flow:
            return await self.start(turn)
        return None

    # -- state -----------------------------------------------------------------------
    async def _current(self, turn: Turn) -> FlowState | None:
        settings = turn.config.flows
        state = await self.states.load(turn.conversation.id)
        if state is None:
            return None
        flow = settings.get(state.flow)
        if state.expired(settings.expire_after_s):
            turn.note(f"flows: {state.flow!r} expired after {settings.expire_after_s:g} s idle")
        elif flow is None or _step(flow, state.step) is None:
            turn.note(f"flows: {state.flow!r} at {state.step!r} no longer in the config; dropped")
        else:
            return state
        await self.states.forget(turn.conversation.id)
        return None

    async def _save(self, turn: Turn, state: FlowState) -> None:
        ttl = turn.config.flows.expire_after_s + 60
        await self.states.save(turn.conversation.id, state, ttl)

    # -- starting and continuing ------------------------------------------------------
    async def start(self, turn: Turn) -> Decision | None:
        name, turn.flow = turn.flow, None
        flow = turn.config.flows.get(name or "")
        if flow is None:
            turn.note(f"flows: no flow named {name!r}; not started")
            return None
        state = FlowState(flow=flow.name, step=flow.steps[0].id)
        turn.note(f"flows: started {flow.name!r}")
        return await self._run(turn, _Run(flow, state), flow.steps[0].id, prefill=True)

    def _answers(self, turn: Turn, flow: FlowConfig, state: FlowState) -> bool:
        step = _step(flow, state.step)
        return step is not None and read_slot(step.expect, turn.message.text) is not None

    async def _continue(self, turn: Turn, flow: FlowConfig, state: FlowState) -> Decision:
        settings = turn.config.flows
        run = _Run(flow, state.evolve(turn=state.turn + 1))
        if _cancelled(settings, turn.folded):
            await self.states.forget(turn.conversation.id)
            run.texts.append(settings.cancel_message)
            return run.decision(f"cancelled at step {state.step!r}")
        step = _step(flow, state.step)
        assert step is not None
        value = read_slot(step.expect, turn.message.text)
        if value is None:
            return await self._bad_answer(turn, run, step)
        run.state = run.state.with_slot(step.slot, value)
        run.trace.append(step.id)
        return await self._run(turn, run, self._next(turn, run, step), prefill=False)

    async def _bad_answer(self, turn: Turn, run: _Run, step: StepConfig) -> Decision:
        retries = run.state.retries + 1
        if retries > step.max_retries:
            return await self._hand_off(turn, run, f"no valid {step.slot} after {retries} tries")
        run.state = run.state.evolve(retries=retries)
        await self._save(turn, run.state)
        run.texts.append(self._render(turn, run, step.retry) if step.retry else DEFAULT_RETRY)
        run.buttons.extend(_ask_buttons(step))
        return run.decision(f"step {step.id!r}: bad answer {retries} of {step.max_retries}", helped=False)

    async def _hand_off(self, turn: Turn, run: _Run, why: str) -> Decision:
        await self.states.forget(turn.conversation.id)
        reason = f"flow {run.flow.name}: {why}; {summary(run.state)}"
        return replace(
            run.decision(why, helped=False), handoff=HandoffRequest(reason=reason)
        )

    # -- walking the steps ---------------------------------------------------------------
    async def _run(self, turn: Turn, run: _Run, step_id: str | None, *, prefill: bool) -> Decision:
        for _ in range(turn.config.flows.max_steps):
            if step_id is None:
                await self.states.forget(turn.conversation.id)
                return run.decision("ran past its last step")
            step = _step(run.flow, step_id)
            if step is None:  # hub check rejects this; a hot edit could still race a turn
                return await self._failed(turn, run, f"no step {step_id!r}")
            run.state = run.state.evolve(step=step.id)
            run.trace.append(step.id)
            outcome = await self._do(turn, run, step, prefill)
            if isinstance(outcome, Decision):
                return outcome
            if step.end:
                await self.states.forget(turn.conversation.id)
                return run.decision(f"ended at step {step.id!r}")
            step_id = self._next(turn, run, step)
        return await self._failed(turn, run, f"more than {turn.config.flows.max_steps} steps")

    async def _do(self, turn: Turn, run: _Run, step: StepConfig, prefill: bool) -> Decision | None:
        """Do one step; a Decision when the turn ends here."""
        if step.kind == "ask":
            return await self._ask(turn, run, step, prefill)
        if step.kind == "call":
            return await self._call(turn, run, step)
        try:
            run.texts.append(render(step.say, self._context(turn, run)))
        except TemplateError as exc:
            return await self._failed(turn, run, f"step {step.id!r} say: {exc}")
        run.buttons.extend(Button(b.label, b.value) for b in step.buttons)
        return None

    async def _ask(self, turn: Turn, run: _Run, step: StepConfig, prefill: bool) -> Decision | None:
        if step.slot in run.state.slots:
            return None
        if prefill:
            value = read_slot(step.expect, turn.message.text) if step.expect else None
            if value is not None:
                run.state = run.state.with_slot(step.slot, value)
                turn.note(f"flows: {step.slot} filled from the first message")
                return None
        try:
            run.texts.append(render(step.ask, self._context(turn, run)))
        except TemplateError as exc:
            return await self._failed(turn, run, f"step {step.id!r} ask: {exc}")
        run.buttons.extend(_ask_buttons(step))
        await self._save(turn, run.state.evolve(retries=0))
        return run.decision(f"asked for {step.slot} at step {step.id!r}")

    async def _call(self, turn: Turn, run: _Run, step: StepConfig) -> Decision | None:
        config = turn.config.actions.get(step.call)
        if config is None:
            return await self._failed(turn, run, f"no action {step.call!r}")
        key = idempotency_key(
            turn.conversation.id, turn.message.message_id, run.flow.name, step.id
        )
        try:
            result: ActionResult = await self.actions.call(
                step.call, config, run.state.slots, idempotency_key=key
            )
        except NotFound:
            return await self._not_found(turn, run, step)
        except ActionFailed as exc:
            message = config.failure_message or turn.config.flows.failure_message
            return await self._failed(turn, run, str(exc), text=message, outcome=exc.outcome)
        run.state = run.state.evolve(result=result.data)
        run.status = result.status
        return None

    async def _not_found(self, turn: Turn, run: _Run, step: StepConfig) -> Decision:
        """Ask the question before the call again, as a bad answer to it."""
        ask = _asked_before(run.flow, step)
        if ask is None:
            return await self._failed(turn, run, f"action {step.call!r}: not found")
        value = run.state.slots.get(ask.slot, "")
        retries = run.state.retries + 1
        slots = {k: v for k, v in run.state.slots.items() if k != ask.slot}
        run.state = run.state.evolve(step=ask.id, slots=slots, retries=retries)
        if retries > ask.max_retries:
            return await self._hand_off(
                turn, run, f"{ask.slot} {scrub(str(value))!r} not found, {retries} times"
            )
        context = {**self._context(turn, run), "value": value}
        try:
            run.texts += [
                render(turn.config.flows.not_found_message, context), render(ask.ask, context)
            ]
        except TemplateError as exc:
            return await self._failed(turn, run, f"not_found_message: {exc}")
        run.buttons.extend(_ask_buttons(ask))
        await self._save(turn, run.state)
        return run.decision(f"action {step.call!r} found nothing; asked again", helped=False,
                            outcome="not_found")

    async def _failed(
        self, turn: Turn, run: _Run, why: str, *, text: str = "", outcome: str = "error"
    ) -> Decision:
        """End the flow with a message and the offer of a person: never silence."""
        logger.warning("flow %s stopped at step %s: %s", run.flow.name, run.state.step, why)
        await self.states.forget(turn.conversation.id)
        run.texts.append(text or turn.config.flows.failure_message)
        offer = _offer_label(turn)
        run.buttons.append(Button(offer, offer))
        return run.decision(f"stopped: {why}", helped=False, outcome=outcome)

    # -- expressions ------------------------------------------------------------------------
    def _next(self, turn: Turn, run: _Run, step: StepConfig) -> str | None:
        context = self._context(turn, run)
        for branch in step.next:
            if branch.when is None:
                return branch.goto
            try:
                if test(branch.when, context):
                    return branch.goto
            except TemplateError as exc:
                logger.warning("flow %s step %s: when %r failed: %s", run.flow.name, step.id,
                               branch.when, exc)
        return _following(run.flow, step)

    def _context(self, turn: Turn, run: _Run) -> dict[str, Any]:
        conversation = turn.conversation
        return {
            "slots": dict(run.state.slots),
            "result": dict(run.state.result),
            "status": run.status,
            "customer": {
                "channel": turn.message.channel,
                "name": turn.message.user_name or conversation.user_name,
            },
            "conversation": {
                "id": conversation.id,
                "channel": conversation.channel,
                "tags": sorted(turn.tags),
            },
        }

    def _render(self, turn: Turn, run: _Run, source: str) -> str:
        try:
            return render(source, self._context(turn, run))
        except TemplateError as exc:
            logger.warning("flow %s: template failed: %s", run.flow.name, exc)
            return DEFAULT_RETRY


class FlowStarter:
    """After the knowledge base: start the flow an FAQ entry asked for."""

    name = STAGE

    def __init__(self, flows: FlowStage) -> None:
        self.flows = flows

    async def __call__(self, turn: Turn) -> Decision | None:
        if not turn.flow:
            return None
        return await self.flows.start(turn)


def flow_handoff_middleware(stage: FlowStage) -> Middleware:
    """A hand-off asked for during a flow (a person requested, a rule) ends the flow
    and carries what it collected into the escalation's reason."""

    async def carry_slots(handler: Handler, turn: Turn) -> Decision:
        decision = await handler(turn)
        if decision.handoff is None or decision.stage == STAGE:
            return decision
        state = await stage.states.load(turn.conversation.id)
        if state is None:
            return decision
        await stage.states.forget(turn.conversation.id)
        reason = f"{decision.handoff.reason}; {summary(state)}"
        return replace(decision, handoff=replace(decision.handoff, reason=reason))

    return carry_slots


def summary(state: FlowState) -> str:
    """For the agents: which flow, where, and what was collected (personal data scrubbed)."""
    slots = ", ".join(f"{k}={scrub(str(v))}" for k, v in state.slots.items()) or "nothing yet"
    return f"in flow {state.flow} at step {state.step}, collected: {slots}"


# -- helpers ---------------------------------------------------------------------------------


def _step(flow: FlowConfig, step_id: str) -> StepConfig | None:
    return next((s for s in flow.steps if s.id == step_id), None)


def _following(flow: FlowConfig, step: StepConfig) -> str | None:
    index = flow.steps.index(step)
    return flow.steps[index + 1].id if index + 1 < len(flow.steps) else None


def _asked_before(flow: FlowConfig, step: StepConfig) -> StepConfig | None:
    index = flow.steps.index(step)
    return next((s for s in reversed(flow.steps[:index]) if s.kind == "ask"), None)


def _ask_buttons(step: StepConfig) -> list[Button]:
    if step.buttons:
        return [Button(b.label, b.value) for b in step.buttons]
    if step.expect is not None and step.expect.choice:
        return [Button(c, c) for c in step.expect.choice]
    return []


def _offer_label(turn: Turn) -> str:
    """The label of the hand-off offer button (``[messages]`` once it lands, else ``[handoff]``)."""
    for section in (getattr(turn.config, "messages", None), turn.config.handoff):
        label = getattr(section, "offer_button", None)
        if label:
            return str(label)
    return "Talk to a person"


def _cancelled(settings: FlowsConfig, folded: str) -> bool:
    phrases = phrase_regex(tuple(settings.cancel_phrases))
    return phrases is not None and phrases.search(folded) is not None
