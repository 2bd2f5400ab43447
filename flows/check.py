"""Flow mistakes found before customers find them: ``hub check`` and every reload.

:func:`flow_problems` looks at how flows, steps, rules and actions fit
together and reports, each with file:line and the key path:

* a ``goto`` to an unknown step; a duplicate step id;
* a ``call`` of an action that no ``[actions.NAME]`` declares; a rule or a flow
  step naming an unknown flow;
* a step that cannot be reached from the first one;
* a template (``ask``, ``say``, ``retry``) or ``when`` that does not compile;
* a slot used (in a template, a ``when`` or an action URL) before any step
  that always runs earlier sets it;
* a flow with no end: no reachable ``end = true``, or a last step that runs
  off the end of the list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateSyntaxError, nodes

from flows.actions import url_fields
from flows.config import FlowConfig, StepConfig
from flows.templates import parse, syntax_error
from hub.errors import ConfigProblem

if TYPE_CHECKING:
    from hub.config import Config

__all__ = ["flow_problems", "toml_line"]

Loc = tuple[str | int, ...]


def flow_problems(config: Config, file: str, text: str = "") -> list[ConfigProblem]:
    found: list[tuple[Loc, str]] = []
    names = {f.name for f in config.flows.list}
    for i, rule in enumerate(config.rules):
        if rule.action == "flow" and rule.flow not in names:
            found.append((("rules", i, "flow"), f"unknown flow {rule.flow!r}"))
    for key in ("cancel_message", "failure_message", "not_found_message"):
        why = syntax_error(getattr(config.flows, key))
        if why:
            found.append((("flows", key), why))
    for i, flow in enumerate(config.flows.list):
        found += [(("flows", "list", i, *loc), why) for loc, why in _flow(flow, config)]
    return [ConfigProblem(file, _dotted(loc), why, toml_line(text, loc)) for loc, why in found]


def _flow(flow: FlowConfig, config: Config) -> Iterator[tuple[Loc, str]]:
    ids = [s.id for s in flow.steps]
    for j, step in enumerate(flow.steps):
        if step.id in ids[:j]:
            yield ("steps", j, "id"), f"duplicate step id {step.id!r}"
        for k, branch in enumerate(step.next):
            if branch.goto not in ids:
                yield ("steps", j, "next", k, "goto"), f"goto to unknown step {branch.goto!r}"
        if step.call and step.call not in config.actions:
            yield ("steps", j, "call"), f"unknown action {step.call!r} (no [actions.{step.call}])"
        yield from _compiles(j, step)
    edges = {s.id: _successors(flow, s) for s in flow.steps}
    reachable = _reachable(flow.steps[0].id, edges)
    for j, step in enumerate(flow.steps):
        if step.id not in reachable:
            yield ("steps", j), f"step {step.id!r} cannot be reached from {flow.steps[0].id!r}"
    yield from _ends(flow, edges, reachable)
    yield from _slots_before_set(flow, edges, reachable, config)


def _compiles(j: int, step: StepConfig) -> Iterator[tuple[Loc, str]]:
    for key in ("ask", "say", "retry"):
        source = getattr(step, key)
        why = syntax_error(source) if source else None
        if why:
            yield ("steps", j, key), why
    for k, branch in enumerate(step.next):
        why = syntax_error(branch.when, expression=True) if branch.when else None
        if why:
            yield ("steps", j, "next", k, "when"), why


def _successors(flow: FlowConfig, step: StepConfig) -> list[str | None]:
    """Where a step can go; None means off the end of the list."""
    if step.end:
        return []
    out: list[str | None] = [b.goto for b in step.next]
    if not step.next or step.next[-1].when is not None:  # no branch may match: fall through
        index = flow.steps.index(step)
        out.append(flow.steps[index + 1].id if index + 1 < len(flow.steps) else None)
    return out


def _reachable(first: str, edges: dict[str, list[str | None]]) -> set[str]:
    seen, todo = {first}, [first]
    while todo:
        for nxt in edges.get(todo.pop(), []):
            if nxt is not None and nxt in edges and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _ends(
    flow: FlowConfig, edges: dict[str, list[str | None]], reachable: set[str]
) -> Iterator[tuple[Loc, str]]:
    if not any(s.end for s in flow.steps if s.id in reachable):
        yield (), f"flow {flow.name!r} has no end (no reachable step with end = true)"
        return
    for j, step in enumerate(flow.steps):
        if step.id in reachable and None in edges[step.id]:
            yield ("steps", j), f"step {step.id!r} runs off the end of the flow (add end = true)"


def _slots_before_set(
    flow: FlowConfig, edges: dict[str, list[str | None]], reachable: set[str], config: Config
) -> Iterator[tuple[Loc, str]]:
    """A slot read where some path to it has not set it yet (a forward data-flow pass)."""
    everything = {s.slot for s in flow.steps if s.slot}
    known: dict[str, set[str]] = {s.id: set(everything) for s in flow.steps}
    known[flow.steps[0].id] = set()
    preds: dict[str, list[str]] = {s.id: [] for s in flow.steps}
    for source, targets in edges.items():
        for target in targets:
            if target in preds and source in reachable:
                preds[target].append(source)
    by_id = {s.id: s for s in flow.steps}
    changed = True
    while changed:
        changed = False
        for step in flow.steps:
            if step.id == flow.steps[0].id or step.id not in reachable:
                continue
            after = [known[p] | ({by_id[p].slot} if by_id[p].slot else set()) for p in preds[step.id]]
            new = set.intersection(*after) if after else set()
            if new != known[step.id]:
                known[step.id], changed = new, True
    for j, step in enumerate(flow.steps):
        if step.id in reachable:
            yield from _reads(j, step, known[step.id], config)


def _reads(j: int, step: StepConfig, known: set[str], config: Config) -> Iterator[tuple[Loc, str]]:
    after = known | ({step.slot} if step.slot else set())
    uses: list[tuple[Loc, str, set[str]]] = []
    for key in ("ask", "say", "retry"):
        source = getattr(step, key)
        if source:
            uses.append((("steps", j, key), source, known))
    for k, branch in enumerate(step.next):
        if branch.when:
            uses.append((("steps", j, "next", k, "when"), "{{ " + branch.when + " }}", after))
    for loc, source, have in uses:
        for slot in sorted(_slots_read(source) - have):
            yield loc, f"slot {slot!r} is used before any step sets it"
    action = config.actions.get(step.call) if step.call else None
    if action is not None and action.url:
        for slot in url_fields(action.url):
            if slot not in known:
                yield ("steps", j, "call"), (
                    f"action {step.call!r} needs slot {slot!r} in its URL before any step sets it"
                )


def _slots_read(source: str) -> set[str]:
    try:
        tree = parse(source)
    except TemplateSyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == "slots":
            if isinstance(node, nodes.Getattr):
                names.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                names.add(node.arg.value)
    return names


# -- where a key is in the TOML source ---------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def toml_line(text: str, loc: Loc) -> int | None:
    """The line of ``loc`` (``("flows", "list", 0, "steps", 2, "call")``) in TOML source,
    following nested arrays of tables; else the line of its nearest enclosing key or table."""
    if not text or not loc:
        return None
    names = [p for p in loc if isinstance(p, str)]
    indices: dict[str, int] = {}
    parts: list[str] = []
    for part in loc:
        if isinstance(part, str):
            parts.append(part)
        else:
            indices.setdefault(".".join(parts), part)
    lines = text.splitlines()
    fallback = None
    for k in range(len(names), 0, -1):
        table = ".".join(names[:k])
        key = names[k] if k < len(names) else None
        exact, header = _find(lines, table, key, indices)
        if exact is not None:
            return exact
        fallback = fallback or header
    return fallback


def _find(
    lines: list[str], table: str, key: str | None, indices: dict[str, int]
) -> tuple[int | None, int | None]:
    counts: dict[str, int] = {}
    inside = False
    header_line = None
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            name = header.group(2)
            if header.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                for other in [o for o in counts if o.startswith(name + ".")]:
                    del counts[other]
            inside = name == table and all(
                counts.get(t, -1) == i for t, i in indices.items() if table == t or table.startswith(t + ".")
            )
            if inside:
                if key is None:
                    return number, number
                header_line = number
            continue
        found = _KEY.match(line)
        if inside and key is not None and found and found.group(1) == key:
            return number, header_line
    return None, header_line


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
