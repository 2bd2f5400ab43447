"""deploy/: the stack's files hold what docs/deploy.md promises (the stack itself
runs in `make image-test`, which needs root and Docker)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from hub.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
sys.path.insert(0, str(DEPLOY / "test"))
from host_compose import host_compose  # noqa: E402


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_deploy_config_is_valid_and_shares_redis() -> None:
    config = load_config(DEPLOY / "config.toml")
    assert config.store.url == "redis://redis:6379/0"
    assert config.server.host == "0.0.0.0" and config.log.format == "json"


def test_two_hubs_mount_config_and_faq_read_only_and_take_secrets_from_the_environment(
    compose: dict,
) -> None:
    services = compose["services"]
    for name in ("hub1", "hub2"):
        hub = services[name]
        mounts = {v.split(":")[1]: v for v in hub["volumes"]}
        for target in ("/etc/switchboard/config.toml", "/etc/switchboard/kb/faq.toml"):
            assert mounts[target].endswith(":ro")
        assert all(str(v).startswith("${") for k, v in hub["environment"].items()
                   if k.endswith(("_KEY", "_TOKEN", "_SECRET")))


def test_redis_appends_every_second_and_the_proxy_is_not_sticky(compose: dict) -> None:
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    upstream = re.search(r"upstream hubs \{(.*?)\}", nginx, re.S)
    assert upstream and "hub1:8080" in upstream.group(1) and "hub2:8080" in upstream.group(1)
    assert not re.search(r"\b(ip_hash|hash|sticky)\b", upstream.group(1))
    assert "proxy_set_header Upgrade $http_upgrade" in nginx


def test_prometheus_scrapes_both_hubs_and_grafana_is_provisioned(compose: dict) -> None:
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == ["hub1:8080", "hub2:8080"]
    grafana = " ".join(compose["services"]["grafana"]["volumes"])
    assert "switchboard.json" in grafana and "provisioning" in grafana


def test_the_image_test_stack_is_on_the_host_network_only(compose: dict) -> None:
    override = yaml.safe_load((DEPLOY / "test" / "compose.host.yaml").read_text())
    stack = host_compose(compose, override)
    assert "networks" not in stack
    assert set(stack["services"]) == {"hub1", "hub2", "redis", "proxy", "prometheus"}
    for service in stack["services"].values():
        assert service["network_mode"] == "host" and "ports" not in service


def test_a_service_left_on_a_bridge_is_refused(compose: dict) -> None:
    override = {"services": {"hub1": {"image": "x"}}}
    with pytest.raises(SystemExit, match="hub1 is not on the host network"):
        host_compose(compose, override)
