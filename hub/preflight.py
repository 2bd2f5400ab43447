"""Preflight: everything ``hub run`` would load, checked before anything starts.

``hub run`` (:class:`~hub.service.HubService` startup) and ``hub check`` both
call :func:`preflight`, so the two cannot disagree: the same faults, in the
same words. A check is a function of the validated config that yields
:class:`~hub.errors.ConfigProblem` items: errors stop the hub, warnings are
logged by ``hub run`` and printed by ``hub check``.

A feature that loads something of its own at startup (a file, a folder of
documents, flows) adds its check to :func:`startup_checks`; the checks here
cover what the core config names: the secrets of the enabled channels and
LLM tiers, and customers who would be left with no way to reach a person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from hub.config import Config, _dotted, _find_line, missing_secret, secret
from hub.errors import ConfigError, ConfigProblem

__all__ = [
    "Check",
    "Preflight",
    "check_channels",
    "check_tier_keys",
    "check_unreachable",
    "preflight",
    "startup_checks",
]

logger = logging.getLogger(__name__)

Check = Callable[[Config], Iterable[ConfigProblem]]


@dataclass(frozen=True, slots=True)
class Preflight:
    """What the checks found: errors stop the hub, warnings do not."""

    errors: tuple[ConfigProblem, ...] = ()
    warnings: tuple[ConfigProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_errors(self) -> None:
        """Raise the errors as one ConfigError (the text ``hub run`` and ``hub check`` print)."""
        if self.errors:
            raise ConfigError(list(self.errors))

    def log_warnings(self) -> None:
        for warning in self.warnings:
            logger.warning("%s", warning)


def startup_checks() -> tuple[Check, ...]:
    """Every check ``hub run`` must pass, in the order their faults are reported."""
    from kb.checks import check_faq  # imported here: kb loads the matcher's libraries
    from kb.documents.checks import check_documents

    return (check_channels, check_tier_keys, check_faq, check_documents, check_unreachable)


def preflight(config: Config, checks: Sequence[Check] | None = None) -> Preflight:
    """Run ``checks`` (default: :func:`startup_checks`) and sort what they found."""
    found = [p for check in (checks or startup_checks()) for p in check(config)]
    return Preflight(
        errors=tuple(p for p in found if p.level == "error"),
        warnings=tuple(p for p in found if p.level == "warning"),
    )


# -- the core's checks ---------------------------------------------------------


def check_channels(config: Config) -> Iterator[ConfigProblem]:
    """What each enabled channel's adapter would refuse at start (its secrets)."""
    channels, where = config.channels, _Where(config)
    if channels.telegram.enabled:
        from adapters.telegram.adapter import secret_problems as telegram

        yield from map(where.locate, telegram(config))
    if channels.slack.enabled:
        from adapters.slack.adapter import secret_problems as slack

        yield from map(where.locate, slack(config))
    if channels.api.enabled:
        from adapters.api.auth import secret_problems as api

        yield from map(where.locate, api(config))


def check_tier_keys(config: Config) -> Iterator[ConfigProblem]:
    """Every ``api_key_env`` an enabled LLM tier names must be set."""
    if config.llm.enabled:
        yield from _tier_keys(config, _Where(config))


def _tier_keys(config: Config, where: _Where) -> Iterator[ConfigProblem]:
    seen = 0  # [[llm.tiers.models]] tables counted across tiers, as they appear in the file
    for t, tier in enumerate(config.llm.tiers):
        for m, model in enumerate(tier.models):
            seen += 1
            if not model.api_key_env or secret(model.api_key_env):
                continue
            problem = where.missing(("llm", "tiers", t, "models", m, "api_key_env"),
                                    model.api_key_env, line_loc=("llm", "tiers", "models", seen - 1,
                                                                 "api_key_env"))
            if model.api_base:  # a local server may take no key: it is called without one
                yield ConfigProblem(problem.file, problem.key,
                                    f"{problem.message}; {model.model} is called without a key",
                                    problem.line, level="warning")
            else:
                yield problem


def check_unreachable(config: Config) -> Iterator[ConfigProblem]:
    """A hand-off rule with no agents and no contact route leaves the customer stuck."""
    agents = config.channels.slack.enabled and bool(config.handoff.agents_channel)
    if agents or config.messages.contact:
        return
    where = _Where(config)
    for index, rule in enumerate(config.rules):
        if rule.action == "handoff":
            yield ConfigProblem(
                where.file,
                f"rules[{index}]",
                f"rule {rule.name!r} hands off, but there are no agents ([handoff] agents_channel "
                "with Slack) and no [messages] contact: the customer is only told that no one "
                "is available",
                where.line(("rules", index, "action")),
                level="warning",
            )


class _Where:
    """File name and best-effort lines for problems about the config file itself."""

    def __init__(self, config: Config) -> None:
        self.file = str(config.source or "config.toml")
        self._text = ""
        if config.source is not None:
            try:
                self._text = config.source.read_text(encoding="utf-8")
            except OSError:
                pass

    def line(self, loc: tuple[str | int, ...]) -> int | None:
        """The key's line, else its table's line, else None."""
        return _find_line(self._text, loc) or _find_line(self._text, loc[:-1])

    def locate(self, problem: ConfigProblem) -> ConfigProblem:
        """``problem`` with the line of its key (a plain dotted path) when it has none."""
        if problem.line is not None or not problem.key or "[" in problem.key:
            return problem
        line = self.line(tuple(problem.key.split(".")))
        return replace(problem, line=line) if line else problem

    def missing(
        self, loc: tuple[str | int, ...], env_name: str, *, line_loc: tuple[str | int, ...] = ()
    ) -> ConfigProblem:
        key = _dotted(loc)
        problem = missing_secret(self.file, key, env_name)
        return ConfigProblem(problem.file, key, problem.message, self.line(line_loc or loc))

