"""docker-compose.yml validates with docker-compose v1 (`apt-get install docker-compose`), offline.

No containers run here (no Docker daemon); the checks are on the resolved configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"


def _compose(*args: str, key: str | None = "secret-key") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")}
    if key is not None:
        env["MMRAG_API_KEY"] = key
    return subprocess.run(
        [COMPOSE, "-f", str(REPO / "docker-compose.yml"), *args],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _config(*profiles: str) -> dict[str, Any]:
    flags = [f for p in profiles for f in ("--profile", p)]
    done = _compose(*flags, "config")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_config_validates() -> None:
    done = _compose("config", "-q")
    assert done.returncode == 0, done.stderr


def test_api_key_is_required() -> None:
    done = _compose("config", "-q", key=None)
    assert done.returncode != 0 and "MMRAG_API_KEY" in done.stderr


def test_default_services_wait_for_healthy_dependencies() -> None:
    everything = _config()["services"]  # v1's `config` lists profiled services too
    services = {name: s for name, s in everything.items() if not s.get("profiles")}
    assert set(services) == {"qdrant", "api", "ui"}
    assert {n: s["profiles"] for n, s in everything.items() if s.get("profiles")} == {
        "api-gpu": ["gpu"], "qdrant-node1": ["cluster"], "qdrant-node2": ["cluster"], "qdrant-node3": ["cluster"],
    }  # fmt: skip
    assert services["qdrant"]["image"].startswith("qdrant/qdrant")
    assert any(str(v).endswith(":/qdrant/storage:rw") for v in services["qdrant"]["volumes"]), services[
        "qdrant"
    ]
    assert services["api"]["depends_on"]["qdrant"]["condition"] == "service_healthy"
    assert services["ui"]["depends_on"]["api"]["condition"] == "service_healthy"
    for name in ("qdrant", "api", "ui"):
        assert services[name]["healthcheck"]["test"], name
    env = services["api"]["environment"]
    assert env["MMRAG_API_KEYS"] == '["secret-key"]' and env["MMRAG_QDRANT_URL"] == "http://qdrant:6333"
    assert services["ui"]["environment"]["MMRAG_API_KEY"] == "secret-key"
    ports = [p for s in everything.values() for p in s.get("ports", [])]
    assert ports and all(str(p).startswith("127.0.0.1:") for p in ports), ports  # published on loopback only


def test_gpu_profile_reserves_nvidia_devices() -> None:
    services = _config("gpu")["services"]
    devices = services["api-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert services["api-gpu"]["environment"]["MMRAG_DEVICE"] == "cuda"


def test_cluster_profile_has_three_qdrant_nodes_bootstrapping_from_the_first() -> None:
    services = _config("cluster")["services"]
    nodes = sorted(s for s in services if s.startswith("qdrant-node"))
    assert nodes == ["qdrant-node1", "qdrant-node2", "qdrant-node3"]
    for name in nodes:
        assert services[name]["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
    for name in nodes[1:]:
        assert "--bootstrap" in services[name]["command"]
        assert services[name]["depends_on"]["qdrant-node1"]["condition"] == "service_healthy"
