"""Jinja filters: times, money, rates and decision evidence, in the console's words."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

__all__ = ["FILTERS", "EVIDENCE_KEYS"]

# The details a decision records, in the order an admin reads them, with their labels.
EVIDENCE_KEYS = (
    ("rule", "rule"),
    ("faq_id", "FAQ entry"),
    ("score", "confidence"),
    ("runner_up", "runner-up"),
    ("runner_up_score", "runner-up confidence"),
    ("kb_candidates", "KB candidates"),
    ("doc_id", "article"),
    ("section", "section"),
    ("tier", "LLM tier"),
    ("model", "model"),
    ("tokens_in", "tokens in"),
    ("tokens_out", "tokens out"),
    ("cost_usd", "cost (USD)"),
    ("cached", "from cache"),
    ("flow", "flow"),
    ("step", "flow step"),
    ("steps", "flow steps"),
    ("slots", "slots"),
    ("handoff", "hand-off"),
    ("helped", "answered the question"),
    ("queue", "queue"),
    ("variants", "experiment variants"),
)
SHOWN = {key for key, _ in EVIDENCE_KEYS} | {"trace", "sources"}


def when(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def short_when(ts: float | None) -> str:
    if not ts:
        return "-"
    if time.time() - ts < 86_400:
        return time.strftime("%H:%M", time.gmtime(ts))
    return time.strftime("%d %b", time.gmtime(ts))


def money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.4f}" if 0 < abs(value) < 0.01 else f"${value:,.2f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def evidence(details: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The labelled evidence of one decision (the trace and sources are shown apart)."""
    if not details:
        return []
    rows = []
    for key, label in EVIDENCE_KEYS:
        value = details.get(key)
        if value is None or value == "" or value == [] or value == {}:
            continue
        rows.append((label, _text(value)))
    rows += [(key, _text(value)) for key, value in details.items() if key not in SHOWN]
    return rows


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return " -> ".join(_text(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    return str(value)


def customer(summary: Any) -> str:
    """A conversation's customer in a few characters: the name, and the id's start."""
    name = getattr(summary, "user_name", "") or "customer"
    user = getattr(summary, "user", "") or getattr(summary, "address", "")
    return f"{name} · {user[:8]}" if user else name


FILTERS = {
    "customer": customer,
    "when": when,
    "short_when": short_when,
    "money": money,
    "pct": pct,
    "evidence": evidence,
}
