"""The Redis key layout lives in hub/store/keys.py, and stays what shops already hold.

``test_no_module_spells_a_store_key`` reads the package sources (an AST scan, no
import) and fails when a call to a store's key-value method, outside
``hub/store``, is given a key spelled on the spot: a string literal, an f-string,
a concatenation, a module constant bound to one, or a call to a helper of ours
that returns one. Keys come from :class:`hub.store.Keys` instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

from hub.store import Keys

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub", "adapters", "providers", "kb", "flows", "routing", "feedback", "experiments", "privacy")
ALLOWED = "hub.store"  # the one package that builds keys
KV_METHODS = {
    "get", "set", "delete", "incr", "add_member", "remove_member", "members", "claim", "release",
    "take_tokens",
}


def package_sources() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[module] = path.read_text(encoding="utf-8")
    return found


class _Module:
    """One module's top-level names: string constants, functions, imported names."""

    def __init__(self, name: str, tree: ast.Module) -> None:
        self.name = name
        self.tree = tree
        self.defs: dict[str, ast.AST] = {}
        self.imports: dict[str, tuple[str, str]] = {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.defs[node.name] = node
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name):
                        self.defs[target.id] = node.value
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (node.module, alias.name)


class KeyScan:
    def __init__(self, sources: Mapping[str, str]) -> None:
        self.modules = {name: _Module(name, ast.parse(text, name)) for name, text in sources.items()}

    def violations(self) -> Iterator[str]:
        for module in self.modules.values():
            if module.name == ALLOWED or module.name.startswith(ALLOWED + "."):
                continue
            for function, call in _store_calls(module.tree):
                local = _local_values(function) if function is not None else {}
                if call.args and self._spelled(call.args[0], module, 2, local):
                    assert isinstance(call.func, ast.Attribute)
                    yield f"{module.name}:{call.lineno}: store.{call.func.attr}() spells its key"

    def _spelled(
        self, expr: ast.expr, module: _Module, depth: int, local: Mapping[str, ast.expr] | None = None
    ) -> bool:
        """True if ``expr`` builds a key string here rather than taking one from Keys."""
        if isinstance(expr, ast.Name) and local and expr.id in local:
            return self._spelled(local[expr.id], module, depth)
        if isinstance(expr, ast.Constant):
            return isinstance(expr.value, str)
        if isinstance(expr, ast.JoinedStr):
            return True
        if isinstance(expr, ast.BinOp):  # "a:" + b, "a:%s" % b
            return self._spelled(expr.left, module, depth) or self._spelled(expr.right, module, depth)
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            method = expr.func.attr in ("format", "join")
            return method and self._spelled(expr.func.value, module, depth)
        if depth == 0:
            return False
        if isinstance(expr, ast.Name):
            found = self._resolve(module, expr.id)
            return found is not None and isinstance(found[1], ast.expr) and self._spelled(
                found[1], found[0], depth - 1
            )
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
            found = self._resolve(module, expr.func.id)
            if found is None or not isinstance(found[1], ast.FunctionDef | ast.AsyncFunctionDef):
                return False
            returns = [n.value for n in ast.walk(found[1]) if isinstance(n, ast.Return) and n.value]
            return any(self._spelled(value, found[0], depth - 1) for value in returns)
        return False

    def _resolve(self, module: _Module, name: str) -> tuple[_Module, ast.AST] | None:
        """Where ``name`` is defined, following ``from x import name`` among our modules
        (a definition in hub/store counts as built by Keys)."""
        for _ in range(5):
            if module.name == ALLOWED or module.name.startswith(ALLOWED + "."):
                return None
            if name in module.defs:
                return module, module.defs[name]
            if name not in module.imports:
                return None
            source, name = module.imports[name]
            if source not in self.modules:
                return None
            module = self.modules[source]
        return None


def _store_calls(tree: ast.Module) -> Iterator[tuple[ast.AST | None, ast.Call]]:
    """Every store key-value call, with the innermost function it sits in."""
    def visit(node: ast.AST, function: ast.AST | None) -> Iterator[tuple[ast.AST | None, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if _is_store_call(child):
                assert isinstance(child, ast.Call)
                yield function, child
            yield from visit(child, inner)

    return visit(tree, None)


def _local_values(function: ast.AST) -> dict[str, ast.expr]:
    """``name = <expr>`` assignments inside a function (the last one wins)."""
    return {
        target.id: node.value
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _is_store_call(node: ast.AST) -> bool:
    """``store.get(...)``, ``self.store.set(...)``, ``hub.store.incr(...)``, ``self._store...``"""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    if node.func.attr not in KV_METHODS:
        return False
    receiver = node.func.value
    name = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
    return name.lower().endswith("store")


def test_no_module_spells_a_store_key() -> None:
    found = list(KeyScan(package_sources()).violations())
    assert not found, "build these keys in hub/store/keys.py (class Keys):\n" + "\n".join(found)


def test_the_scan_finds_keys_spelled_in_every_way() -> None:
    sources = {
        "adapters.names": 'OFFSET = "telegram:offset"\n'
                          'def key_of(short):\n    return f"telegram:cb:{short}"\n',
        "adapters.bad": """
from adapters.names import OFFSET, key_of
LOCAL = "handoff:open"
async def run(self, store, x):
    await self.store.get("telegram:offset")
    await store.set(f"llm:cost:day:{x}", 1)
    await self.hub.store.incr("llm:cost:conv:" + x, 1.0)
    await self._store.members("handoff:%s" % x)
    await self.store.delete("flow:{}".format(x))
    await self.store.get(OFFSET)
    await self.store.add_member(LOCAL, x)
    await self.store.get(key_of(x))
    await self.store.remove_member(":".join(("handoff", "open")), x)
    key = f"telegram:cb:{x}"
    await self.store.get(key)
""",
    }
    found = list(KeyScan(sources).violations())
    assert [line.split(":")[1] for line in found] == [str(n) for n in (*range(5, 14), 15)]


def test_the_scan_leaves_other_strings_alone() -> None:
    sources = {
        "hub.store.keys": 'def made_here(x):\n    return f"flow:{x}"\n',
        "flows.good": """
import os
from hub.store.keys import made_here
from hub.store import Keys
async def run(self, store, data, key, message):
    data.get("text")
    self._cache.get("webchat:secret")
    os.environ.get("HOME")
    message.metadata.get("button")
    await store.get_conversation("c1")
    await store.conversation_at("webchat:abc")
    await self.store.get(Keys.flow_state(key))
    await self.store.get(key)
    await self.store.set(Keys.telegram_offset(), "a literal value is fine")
    await self.store.get(made_here(key))
    name = Keys.escalation(key)
    await self.store.get(name)
""",
    }
    assert list(KeyScan(sources).violations()) == []


def test_key_value_names_are_the_ones_shops_already_hold() -> None:
    """Byte for byte what the features spelled before hub/store/keys.py built them."""
    assert Keys.flow_state("c1") == "flow:c1"
    assert Keys.webchat_secret() == "webchat:secret"
    assert Keys.escalation("c1") == "handoff:escalation:c1"
    assert Keys.escalation_thread("C9", "1700.01") == "handoff:thread:C9:1700.01"
    assert Keys.open_escalations() == "handoff:open"
    assert Keys.telegram_offset() == "telegram:offset"
    assert Keys.telegram_callback("sb:ab12") == "telegram:cb:sb:ab12"
    assert Keys.llm_cost_day("2025-01-31") == "llm:cost:day:2025-01-31"
    assert Keys.llm_cost_tier("cheap", "2025-01-31") == "llm:cost:tier:cheap:2025-01-31"
    assert Keys.llm_cost_conversation("c1") == "llm:cost:conv:c1"
    assert Keys.llm_answer("f00") == "llm:cache:f00"


def test_prefixed_keys_keep_their_layout() -> None:
    keys = Keys()
    assert keys.kv(Keys.telegram_offset()) == "sb:kv:telegram:offset"
    assert keys.conversation("c1") == "sb:conv:c1"
    assert keys.address("webchat:abc") == "sb:addr:webchat:abc"
    assert keys.ingress(7) == "sb:in:7"
    assert Keys("shop2").kv("flow:c1") == "shop2:kv:flow:c1"
