"""deploy/compose.yml: PostgreSQL, the migrate step, two replicas on it, one address in front."""

from __future__ import annotations

from pathlib import Path

import yaml

from algobot.cli import build_parser
from algobot.settings import Settings

COMPOSE = Path(__file__).resolve().parent.parent / "deploy" / "compose.yml"


def test_compose_runs_migrate_once_then_two_replicas_on_postgresql():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    replicas = [name for name in services if name.startswith("algobot-")]
    assert len(replicas) == 2 and "db" in services
    assert services["migrate"]["command"] == ["algobot", "migrate"]
    build_parser().parse_args(services["migrate"]["command"][1:])
    for name in replicas:
        service = services[name]
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        url = service["environment"]["ALGOBOT_DATABASE_URL"].replace("${POSTGRES_PASSWORD:-algobot}", "pw")
        settings = Settings.from_env({"ALGOBOT_DATABASE_URL": url, "ALGOBOT_SECRET_KEY": "a passphrase"})
        assert settings.database_location == url and "pw" in settings.secrets()
    proxy = " ".join(services["proxy"]["command"])
    assert all(f"--to {name}:3000" in proxy for name in replicas)
