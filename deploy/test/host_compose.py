"""Write the compose file `make image-test` runs: ../compose.yaml with
compose.host.yaml applied, on the host's network only.

docker-compose 1.x (Debian's) merges an override's ``ports`` into the base's and
cannot drop the base's ``networks``, so the override is applied here instead:
each service the override names keeps its base settings less ``ports``,
``networks`` and ``build``, then takes the override's (mappings merged, volumes by
their target, anything else replaced); services it does not name are left out,
and so are the top-level networks. The result is refused unless every service
has ``network_mode: host``: no bridge network is ever created.

    python deploy/test/host_compose.py OUT.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DROPPED = ("ports", "networks", "build")


def _volumes(base: list[str], override: list[str]) -> list[str]:
    targets = {v.split(":")[1] for v in override}
    return [v for v in base if v.split(":")[1] not in targets] + override


def merged_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    service = {k: v for k, v in base.items() if k not in DROPPED}
    for key, value in override.items():
        if key == "volumes":
            service[key] = _volumes(service.get(key, []), value)
        elif isinstance(value, dict) and isinstance(service.get(key), dict):
            service[key] = {**service[key], **value}
        else:
            service[key] = value
    return service


def host_compose(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    services = {
        name: merged_service(base["services"].get(name, {}), spec)
        for name, spec in override["services"].items()
    }
    for name, service in services.items():
        if service.get("network_mode") != "host" or "networks" in service or "ports" in service:
            raise SystemExit(f"host_compose: service {name} is not on the host network only")
    return {"services": services, "volumes": base.get("volumes", {})}


def main(out: str) -> None:
    base = yaml.safe_load((HERE.parent / "compose.yaml").read_text())
    override = yaml.safe_load((HERE / "compose.host.yaml").read_text())
    Path(out).write_text(yaml.safe_dump(host_compose(base, override), sort_keys=False))


if __name__ == "__main__":
    main(sys.argv[1])
