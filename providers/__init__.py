"""The LLM router: cost-tiered answers on litellm, grounded, safe, never a dead end.

``LITELLM_LOCAL_MODEL_COST_MAP`` is set before anything imports litellm, so it
reads its bundled price table instead of fetching one at import.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from providers.pii import scrub  # noqa: E402
from providers.stage import LLMStage  # noqa: E402

__all__ = ["LLMStage", "scrub"]
