"""Hand-off to human agents: the last stage of the chain."""

from __future__ import annotations

from hub.stages import Decision, HandoffRequest, Turn

__all__ = ["HandoffStage"]

PASS_ON = "I'll pass this on to a person who can help."


class HandoffStage:
    """Stage 4: when no earlier stage answered, ask for a human."""

    name = "handoff"

    async def __call__(self, turn: Turn) -> Decision | None:
        return Decision(
            stage=self.name,
            reason="no earlier stage could answer",
            text=PASS_ON,
            handoff=HandoffRequest(reason="no stage could answer"),
            helped=False,
        )
