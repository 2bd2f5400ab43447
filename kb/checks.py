"""What ``hub run`` loads for the knowledge base, checked up front (see :mod:`hub.preflight`)."""

from __future__ import annotations

from hub.config import Config
from hub.errors import ConfigError, ConfigProblem
from kb.faq import load_faq, placeholder_warnings

__all__ = ["check_faq"]


def check_faq(config: Config) -> list[ConfigProblem]:
    """The FAQ file at ``[kb] path`` must load, with the errors its loader gives."""
    if not config.kb.enabled:
        return []
    try:
        faq = load_faq(config.resolve(config.kb.path))
    except ConfigError as exc:
        return list(exc.problems)
    return placeholder_warnings(faq)
