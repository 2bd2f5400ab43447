"""Topics the assistant will not advise on (``[llm] refuse_topics``).

Known topics have patterns for *asking for advice* (a customer who mentions a
lawyer is not asking for legal advice); any other topic name is matched as a
word. A refused question gets a polite refusal and the offer of a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["KNOWN_TOPICS", "refused_topic"]

KNOWN_TOPICS: dict[str, re.Pattern[str]] = {
    "medical": re.compile(
        r"\b(?:medical advice|diagnos\w*|symptoms?|medications?|medicines?|prescri\w+|"
        r"dosage|how much \w+ should i take|side effects?|should i see a doctor|"
        r"is it (?:safe|dangerous) to (?:take|eat|drink)|treat(?:ment)? for|infection|rash)\b",
        re.IGNORECASE,
    ),
    "legal": re.compile(
        r"\b(?:legal advice|is (?:it|this|that) legal|is (?:it|this|that) illegal|"
        r"(?:can|should) i (?:sue|take legal action|press charges)|my legal rights|"
        r"am i (?:legally )?liable|divorce|custody|tenant rights|write my will|"
        r"draft (?:a|my) contract)\b",
        re.IGNORECASE,
    ),
    "financial": re.compile(
        r"\b(?:investment advice|should i (?:invest|buy|sell) (?:in )?\w+|"
        r"which stocks?|crypto(?:currency)? to buy|tax advice)\b",
        re.IGNORECASE,
    ),
}


def _pattern(topic: str) -> re.Pattern[str]:
    known = KNOWN_TOPICS.get(topic.lower())
    if known is not None:
        return known
    return re.compile(rf"\b{re.escape(topic)}\b", re.IGNORECASE)


def refused_topic(text: str, topics: Iterable[str]) -> str | None:
    """The first of ``topics`` that ``text`` asks about, or None."""
    for topic in topics:
        if _pattern(topic).search(text):
            return topic
    return None
