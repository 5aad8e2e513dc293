"""docker-compose.yml checked against the compose-spec JSON Schema (check-jsonschema's copy)."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid_compose_spec() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_services_share_one_image_and_redis_is_durable() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "poller", "worker", "flower"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    assert "healthcheck" in services["redis"]
    assert {services[s]["image"] for s in ("poller", "worker", "flower")} == {"newswire:latest"}
    assert services["poller"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "redis-data" in compose["volumes"]


def test_validator_rejects_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  web:\n    image: 42\n    ports: nope\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(bad),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
