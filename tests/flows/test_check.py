"""`hub check` (and every reload) finds flow mistakes, naming file:line and the key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.config import load_config
from hub.errors import ConfigError

GOOD = '''
[[rules]]
name = "orders"
keywords = ["order"]
action = "flow"
flow = "order-status"

[actions.order_status]
url = "https://shop.example/api/orders/{order_id}"

[[flows.list]]
name = "order-status"
[[flows.list.steps]]
id = "ask-order"
ask = "Order number?"
slot = "order_id"
expect = { pattern = "NW-\\\\d{5}" }
[[flows.list.steps]]
id = "lookup"
call = "order_status"
next = [ { when = "result.status == 'delayed'", goto = "delayed" }, { goto = "tell" } ]
[[flows.list.steps]]
id = "tell"
say = "Order {{ slots.order_id }} is {{ result.status }}."
end = true
[[flows.list.steps]]
id = "delayed"
say = "Order {{ slots.order_id }} is delayed."
end = true
'''


def problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return str(error.value).replace(str(path), "config.toml")


def test_the_good_config_passes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GOOD)
    assert load_config(path).flows.list[0].name == "order-status"


def test_a_goto_to_an_unknown_step(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace('goto = "delayed"', 'goto = "late"'))
    assert "config.toml:21: flows.list[0].steps[1].next[0].goto: goto to unknown step 'late'" in found
    assert "steps[3]: step 'delayed' cannot be reached" in found


def test_an_unknown_action(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace('call = "order_status"', 'call = "order_stats"'))
    assert "config.toml:20: flows.list[0].steps[1].call: unknown action 'order_stats'" in found


def test_a_step_that_cannot_be_reached(tmp_path: Path) -> None:
    text = GOOD.replace('next = [ { when = "result.status == \'delayed\'", goto = "delayed" }, ', "next = [ ")
    found = problems(tmp_path, text)
    assert "config.toml:26: flows.list[0].steps[3]: step 'delayed' cannot be reached from 'ask-order'" in found


def test_templates_and_whens_that_do_not_compile(tmp_path: Path) -> None:
    text = GOOD.replace("is {{ result.status }}.", "is {{ result.status }.").replace(
        "result.status == 'delayed'", "result.status = 'delayed'"
    )
    found = problems(tmp_path, text)
    assert "config.toml:24: flows.list[0].steps[2].say: does not compile" in found
    assert "config.toml:21: flows.list[0].steps[1].next[0].when: does not compile" in found


def test_a_slot_used_before_it_is_set(tmp_path: Path) -> None:
    text = GOOD.replace("is delayed.", "is delayed, {{ slots.email }}.")
    found = problems(tmp_path, text)
    assert "config.toml:28: flows.list[0].steps[3].say: slot 'email' is used before any step sets it" in found


def test_an_action_url_slot_used_before_it_is_set(tmp_path: Path) -> None:
    text = GOOD.replace('slot = "order_id"', 'slot = "order"')
    found = problems(tmp_path, text)
    assert "flows.list[0].steps[1].call: action 'order_status' needs slot 'order_id'" in found


def test_a_flow_with_no_end(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("end = true\n", ""))
    assert "flows.list[0]: flow 'order-status' has no end" in found


def test_a_last_step_that_runs_off_the_end(tmp_path: Path) -> None:
    text = GOOD.rstrip().removesuffix("end = true") + 'next = [{ when = "slots.order_id", goto = "tell" }]\n'
    found = problems(tmp_path, text)
    assert "config.toml:26: flows.list[0].steps[3]: step 'delayed' runs off the end of the flow" in found


def test_a_rule_naming_an_unknown_flow(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace('flow = "order-status"', 'flow = "orders"', 1))
    assert "config.toml:6: rules[0].flow: unknown flow 'orders'" in found


def test_shape_errors_name_the_nested_key_and_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace('ask = "Order number?"', 'ask = "Order number?"\ncall = "x"'))
    assert "config.toml:13: flows.list[0].steps[0]: step 'ask-order' needs exactly one of ask, call or say" in found


def test_hub_check_prints_the_flow_errors_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GOOD.replace('goto = "delayed"', 'goto = "late"'))
    result = subprocess.run([sys.executable, "-m", "hub.cli", "check", "--config", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"{path}:21: flows.list[0].steps[1].next[0].goto: goto to unknown step 'late'" in result.stderr


def test_the_shipped_config_passes_hub_check() -> None:
    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "config.toml")
    assert {f.name for f in config.flows.list} == {"order-status", "returns"}
