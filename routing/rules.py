"""Keyword rules from config.toml: the first and cheapest stage.

A rule matches when any of its ``keywords`` occurs as whole words (case-,
accent- and width-insensitive, traditional and simplified Chinese alike; in
Chinese, Japanese or Thai, inside the text: see :mod:`hub.text`), the message
is in one of its ``lang`` languages (when it names any) and its ``pattern`` regex matches (case-insensitive); a
rule with only one of the two needs only that one. Rules run by descending
``priority``, then file order. ``tag`` rules add tags and let later rules run;
``route`` rules force an LLM tier and ``flow`` rules ask the flows stage to
start a flow; both end rule matching. ``reply`` and
``handoff`` rules decide.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from hub.config import RuleConfig
from hub.envelope import Button
from hub.stages import Decision, HandoffRequest, Turn
from hub.text import phrase_regex

__all__ = ["CompiledRule", "RuleStage", "compile_rules"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    config: RuleConfig
    keywords: re.Pattern[str] | None
    pattern: re.Pattern[str] | None

    @property
    def name(self) -> str:
        return self.config.name

    def match(self, text: str, folded: str, channel: str, language: str = "") -> str | None:
        """What matched (for the decision record), or None."""
        if self.config.channels and channel not in self.config.channels:
            return None
        if self.config.lang and not _speaks(self.config.lang, language):
            return None
        found = []
        if self.keywords is not None:
            hit = self.keywords.search(folded)
            if hit is None:
                return None
            found.append(f"keyword {hit.group(0)!r}")
        if self.pattern is not None:
            hit = self.pattern.search(text)
            if hit is None:
                return None
            found.append(f"pattern {self.pattern.pattern!r}")
        return " and ".join(found)


def _speaks(languages: tuple[str, ...], language: str) -> bool:
    """A rule for "zh" takes a message in "zh" (and "zh-TW"); one for "zh-TW" only that."""
    language = language.lower()
    return language in languages or language.split("-")[0] in languages


def compile_rules(rules: tuple[RuleConfig, ...]) -> tuple[CompiledRule, ...]:
    """Compile the rules, highest priority first, then file order."""
    ordered = sorted(enumerate(rules), key=lambda pair: (-pair[1].priority, pair[0]))
    return tuple(
        CompiledRule(
            config=rule,
            keywords=phrase_regex(rule.keywords) if rule.keywords else None,
            pattern=re.compile(rule.pattern, re.IGNORECASE) if rule.pattern else None,
        )
        for _, rule in ordered
    )


class RuleStage:
    """Stage 1: the admins' keyword rules."""

    name = "rules"

    def __init__(self) -> None:
        self._source: tuple[RuleConfig, ...] | None = None
        self._compiled: tuple[CompiledRule, ...] = ()

    def _rules(self, rules: tuple[RuleConfig, ...]) -> tuple[CompiledRule, ...]:
        """Compiled once per config: an identity check, not a hash of every rule."""
        if rules is not self._source:
            self._compiled, self._source = compile_rules(rules), rules
        return self._compiled

    async def __call__(self, turn: Turn) -> Decision | None:
        text = turn.message.text
        folded = turn.folded
        for rule in self._rules(turn.config.rules):
            why = rule.match(text, folded, turn.message.channel, turn.language)
            if why is None:
                continue
            decision = self._apply(rule.config, why, turn)
            if decision is not None or rule.config.action in ("route", "flow"):
                return decision
        return None

    def _apply(self, rule: RuleConfig, why: str, turn: Turn) -> Decision | None:
        reason = f"rule {rule.name!r} matched {why}"
        details = {"rule": rule.name, "action": rule.action, "matched": why}
        if rule.action == "tag":
            turn.tags.update(rule.tags)
            turn.note(f"{reason}: tagged {', '.join(rule.tags)}")
            return None
        if rule.action == "route":
            turn.forced_tier = rule.tier
            turn.note(f"{reason}: routed to tier {rule.tier!r}")
            return None
        if rule.action == "flow":
            turn.flow = rule.flow
            turn.note(f"{reason}: starts flow {rule.flow!r}")
            return None
        if rule.action == "handoff":
            return Decision(
                stage=self.name,
                reason=reason,
                details=details,
                handoff=HandoffRequest(reason=f"rule {rule.name}", queue=rule.queue),
            )
        buttons = tuple(Button(b.label, b.value) for b in rule.buttons)
        return Decision(
            stage=self.name, reason=reason, text=rule.text, buttons=buttons, details=details
        )
