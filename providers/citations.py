"""An answer's citations (``[1]``, ``[2]``) into the sources a channel shows as links.

The knowledge base passes article passages to the LLM as numbered references
(ids ``"1"``, ``"2"``, ... with a :class:`~hub.envelope.Source` each). The
reply cites them in its text. Only what the text cites is listed, in the
order first cited; a number that names no passage (``[7]`` of three) is
dropped from the text, so the customer never sees a citation that leads
nowhere. FAQ references (named ids) are grounding, not articles: no link.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hub.envelope import Source, with_sources
from hub.stages import Candidate

__all__ = ["cite", "passages"]

_CITATION = re.compile(r"\s*\[(\d{1,3})\]")


def passages(candidates: Sequence[Candidate]) -> dict[int, Source]:
    """The numbered article passages among ``candidates``, by their number."""
    return {
        c.source.number: c.source
        for c in candidates
        if c.source is not None and c.source.number is not None
    }


def cite(text: str, candidates: Sequence[Candidate]) -> tuple[str, tuple[Source, ...]]:
    """``text`` with its valid citations kept and its sources' line added; the sources."""
    known = passages(candidates)
    cited: dict[int, Source] = {}

    def keep_or_drop(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in known:
            return ""
        cited.setdefault(number, known[number])
        return match.group(0)

    body = _CITATION.sub(keep_or_drop, text).strip()
    sources = tuple(cited.values())
    return with_sources(body, sources), sources
