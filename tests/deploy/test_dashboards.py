"""The Grafana dashboard and the Prometheus alerts name only metrics a running hub
exports (so they cannot rot), ``promtool`` accepts the rules, and ``hub run`` with
``[log] format = "json"`` writes JSON lines.

One real ``hub run`` process on Redis with the LLM stage on the fake provider;
the events that make labelled series appear are driven through it: webchat
messages (a rule and an LLM answer) and a refused config reload (an error).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from hub.logs import log_address
from tests.deploy.hub_process import ANSWER, HubProcess, hub_process, is_json_object, wait_until
from tests.harness import WebchatClient

pytestmark = pytest.mark.timeout(300)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "switchboard.json"

# Series Prometheus makes itself for each scrape target, not the hub.
PROMETHEUS_OWN = {"up"}
# PromQL words that look like names: functions and aggregations come before "(",
# these do not (or may not).
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
             "group_right", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (Grafana's $variables allowed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings, which may hold anything
    text = re.sub(r"\$\{?\w+\}?", "1m", text)  # $__rate_interval and other variables
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end():].lstrip()[:1]
        word = match.group()
        if following != "(" and word.lower() not in _KEYWORDS and not _is_number(text, match):
            names.add(word)
    return names


def _is_number(text: str, match: re.Match[str]) -> bool:
    """``e`` of ``1e3``, or a unit of a duration such as ``5m``."""
    return match.start() > 0 and text[match.start() - 1].isdigit()


def alert_expressions() -> dict[str, str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def dashboard_expressions() -> dict[str, str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {f"{p['title']} / {t['refId']}": t["expr"] for p in panels for t in p["targets"]}


def exported(metrics_text: str) -> set[str]:
    return {
        sample.name
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
    }


# -- the running hub ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with hub_process(tmp_path_factory.mktemp("deploy")) as running:
        yield running


@pytest.fixture(scope="module")
def driven(hub: HubProcess) -> dict[str, str]:
    """/metrics after the events that make every labelled series appear, and the session."""
    import asyncio

    return asyncio.run(_drive(hub))


async def _drive(hub: HubProcess) -> dict[str, str]:
    await wait_until(f"{hub.url}/healthz", lambda status, _: status == 200)
    async with WebchatClient.connect(hub.url) as chat:
        assert (await chat.say("ping"))["text"] == "pong"
        assert (await chat.say("What time do your stores open on Sundays?"))["text"] == ANSWER
        session = chat.session_id
    hub.config.write_text(hub.config.read_text() + '\n[[rules]]\nname = "broken"\npattern = "("\n')
    metrics = await wait_until(
        f"{hub.url}/metrics", lambda _, body: 'switchboard_errors_total{component="config"}' in body
    )
    return {"metrics": metrics, "session": session}


def test_every_metric_the_alerts_use_is_exported_by_a_running_hub(driven: dict[str, str]) -> None:
    names = exported(driven["metrics"]) | PROMETHEUS_OWN
    for alert, expr in alert_expressions().items():
        used = metric_names(expr)
        assert used, f"{alert}: no metric found in {expr!r}"
        assert used <= names, f"alert {alert} uses {sorted(used - names)}, not in /metrics"


def test_every_metric_the_dashboard_uses_is_exported_by_a_running_hub(
    driven: dict[str, str],
) -> None:
    names = exported(driven["metrics"])
    for panel, expr in dashboard_expressions().items():
        used = metric_names(expr)
        assert used, f"{panel}: no metric found in {expr!r}"
        assert used <= names, f"panel {panel} uses {sorted(used - names)}, not in /metrics"


def test_the_dashboard_has_the_panels_an_operator_looks_for() -> None:
    titles = " | ".join(p["title"].lower() for p in json.loads(DASHBOARD.read_text())["panels"])
    for wanted in ("messages per channel", "decisions per stage", "deflection", "hand-off",
                   "latency", "llm spend", "budget left", "errors per component",
                   "stream lag", "dead letters"):
        assert wanted in titles, wanted


def test_the_alerts_hold_the_seeds_thresholds_and_ours() -> None:
    alerts = alert_expressions()
    assert "> 0.005" in alerts["SwitchboardSuccessRateLow"]  # success rate < 99.5%
    assert "histogram_quantile(0.99" in alerts["SwitchboardLatencyP99High"]
    assert "> 0.8" in alerts["SwitchboardLatencyP99High"]  # P99 > 800 ms
    assert "> 0.85" in alerts["SwitchboardCPUHigh"]
    assert ">= 0.8" in alerts["SwitchboardLLMBudget80"]
    assert "switchboard_dead_letters_total" in alerts["SwitchboardDeadLetters"]
    assert "unless" in alerts["SwitchboardChannelStoppedDelivering"]
    rules = {r["alert"]: r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]}
    assert rules["SwitchboardCPUHigh"]["for"] == "5m"


def test_metric_names_are_found_past_functions_labels_and_keywords() -> None:
    expr = ('sum by (channel) (increase(a_total{c=~"x|y"}[15m])) > 0 unless '
            'histogram_quantile(0.99, sum by (le) (rate(b_bucket[$__rate_interval]))) > 1e3')
    assert metric_names(expr) == {"a_total", "b_bucket"}


# -- logs --------------------------------------------------------------------------------


def test_hub_run_with_json_format_writes_one_json_object_a_line(
    hub: HubProcess, driven: dict[str, str]
) -> None:
    lines = [line for line in hub.log_lines() if line.strip()]
    assert lines and all(is_json_object(line) for line in lines), lines[:5]
    records = [json.loads(line) for line in lines]
    llm = next(r for r in records if r["message"].startswith("decision llm"))
    assert llm["conversation"] == log_address(f"webchat:{driven['session']}")
    assert (llm["channel"], llm["stage"]) == ("webchat", "llm") and llm["latency_ms"] > 0
    assert any("rules[1].pattern" in r["message"] for r in records if r["level"] == "ERROR")
    assert driven["session"] not in hub.log.read_text()


# -- promtool ----------------------------------------------------------------------------


def promtool() -> str:
    """Debian's promtool (`make promtool`, run by `make test`); required under CI."""
    found = shutil.which("promtool") or shutil.which("promtool", path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is required under CI: `make promtool` installs it")
        pytest.skip("no promtool (make promtool)")
    return found


def test_promtool_accepts_the_alert_rules() -> None:
    result = subprocess.run([promtool(), "check", "rules", str(ALERTS)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_expressions())} rules found" in result.stdout


def test_promtool_accepts_the_compose_prometheus_config(tmp_path: Path) -> None:
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    local = tmp_path / "prometheus.yml"
    local.write_text(config.replace("/etc/prometheus/alerts.yml", str(ALERTS)))
    result = subprocess.run([promtool(), "check", "config", str(local)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# -- the alerts fire when they should, and only then (promtool test rules) ------------------

HUB = 'job="switchboard",instance="hub1:8080"'


def _case(series: dict[str, str], alert: str, at: str, fires: list[dict[str, str]]) -> dict:
    return {
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [{"eval_time": at, "alertname": alert,
                             "exp_alerts": [{"exp_labels": labels} for labels in fires]}],
    }


def _bucket(le: str) -> str:
    return f'switchboard_message_latency_seconds_bucket{{{HUB},channel="webchat",le="{le}"}}'


CASES = [
    _case({f'switchboard_dead_letters_total{{{HUB}}}': "0 0 0 1 1 1"},
          "SwitchboardDeadLetters", "5m", [{"severity": "page"}]),
    _case({f'switchboard_dead_letters_total{{{HUB}}}': "0x10"}, "SwitchboardDeadLetters", "5m", []),
    # webchat: replies stop after 10 minutes while messages keep coming; telegram is fine.
    *[_case({
        f'switchboard_messages_in_total{{{HUB},channel="webchat"}}': "0+10x40",
        f'switchboard_messages_out_total{{{HUB},channel="webchat",sender="bot"}}': "0+10x10 100x30",
        f'switchboard_messages_in_total{{{HUB},channel="telegram"}}': "0+5x40",
        f'switchboard_messages_out_total{{{HUB},channel="telegram",sender="bot"}}': "0+5x40",
    }, "SwitchboardChannelStoppedDelivering", at, fires) for at, fires in (
        ("20m", []), ("35m", [{"severity": "page", "channel": "webchat"}]))],
    *[_case({
        f'switchboard_messages_in_total{{{HUB},channel="webchat"}}': "0+100x20",
        f'switchboard_errors_total{{{HUB},component="send:webchat"}}': f"0+{errors}x20",
    }, "SwitchboardSuccessRateLow", "15m", fires) for errors, fires in (
        (1, [{"severity": "page"}]), (0.2, []))],  # 1% failed: fires; 0.2%: does not
    _case({
        f'switchboard_messages_in_total{{{HUB},channel="webchat"}}': "0+100x20",
        f'switchboard_decisions_total{{{HUB},stage="error"}}': "0+1x20",
    }, "SwitchboardSuccessRateLow", "15m", [{"severity": "page"}]),
    # 90% of replies under 0.5 s, the rest between 1 and 2.5 s: P99 is over 800 ms.
    *[_case({_bucket("0.5"): fast, _bucket("1"): fast, _bucket("2.5"): "0+100x20",
             _bucket("+Inf"): "0+100x20"}, "SwitchboardLatencyP99High", "15m", fires)
      for fast, fires in (("0+90x20", [{"severity": "page"}]), ("0+100x20", []))],
    *[_case({f'process_cpu_seconds_total{{{HUB}}}': cpu}, "SwitchboardCPUHigh", "15m", fires)
      for cpu, fires in (("0+54x20", [{"severity": "warning", "job": "switchboard",
                                        "instance": "hub1:8080"}]), ("0+30x20", []))],
    *[_case({f'switchboard_llm_spent_today_usd{{{HUB}}}': spent,
             f'switchboard_llm_daily_budget_usd{{{HUB}}}': budget},
            "SwitchboardLLMBudget80", "2m", fires)
      for spent, budget, fires in (("4.2x5", "5x5", [{"severity": "warning"}]),
                                   ("3x5", "5x5", []), ("3x5", "0x5", []))],
    _case({f'up{{{HUB}}}': "1 1 0 0 0 0"}, "SwitchboardHubDown", "5m",
          [{"severity": "page", "job": "switchboard", "instance": "hub1:8080"}]),
]


def test_each_alert_fires_on_its_condition_and_not_below_it(tmp_path: Path) -> None:
    """The rules without their annotations (promtool compares the expanded texts too;
    the expressions, ``for`` and labels are what is tested here)."""
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    tested = {case["alert_rule_test"][0]["alertname"] for case in CASES}
    assert tested == set(alert_expressions())
    (tmp_path / "test.yml").write_text(yaml.safe_dump(
        {"rule_files": ["alerts.yml"], "evaluation_interval": "1m", "tests": CASES}
    ))
    result = subprocess.run([promtool(), "test", "rules", "test.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
