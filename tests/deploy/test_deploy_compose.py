"""The compose files and .env.example agree with each other and with the repository.

No container engine runs here, so these read the files: they parse, everything they point at
exists, the services are wired the way docs/deploy.md says, and no secret is written into them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.deploy_harness import REPO

PROD = REPO / "docker-compose.prod.yml"
DEV = REPO / "docker-compose.yml"
LONG_RUNNING = ("app", "nginx", "certbot", "redis", "postgres")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}")


def compose(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def env_example_names() -> set[str]:
    """Variables .env.example documents, set (KEY=) or shown with their default (# KEY=)."""
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^#?\s?([A-Za-z_][A-Za-z0-9_]*)=", text, flags=re.MULTILINE))


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


@pytest.fixture(scope="module")
def prod() -> dict:
    return compose(PROD)


def test_production_services_and_restart_policies(prod):
    services = prod["services"]
    assert set(LONG_RUNNING) <= set(services)
    for name in LONG_RUNNING:
        assert services[name].get("restart") in ("unless-stopped", "always"), name
    assert services["migrate"]["restart"] == "no"


def test_every_long_running_service_has_a_healthcheck(prod):
    for name in LONG_RUNNING:
        test = prod["services"][name].get("healthcheck", {}).get("test")
        assert test and test != ["NONE"], name


def test_the_app_waits_for_its_database_and_one_migration_run(prod):
    services = prod["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    depends = services["app"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    # Both run the same image with the same settings.
    for key in ("image", "env_file", "environment"):
        assert services["migrate"][key] == services["app"][key], key


def test_only_nginx_is_published(prod):
    """Grafana (the optional monitoring profile) listens on the host's loopback only."""
    services = prod["services"]
    assert sorted(services["nginx"]["ports"]) == ["443:443", "80:80"]
    for name, service in services.items():
        if name == "grafana":
            assert [port.split(":")[0] for port in service["ports"]] == ["127.0.0.1"]
        elif name != "nginx":
            assert "ports" not in service, f"{name} must stay on the internal network"
    assert services["app"]["expose"] == ["8008"]


def test_nginx_gets_what_its_configuration_reads(prod):
    """The paths and the upstream in nginx/conf.d/default.conf exist in the nginx container."""
    site = (REPO / "nginx" / "conf.d" / "default.conf").read_text()
    nginx = prod["services"]["nginx"]
    targets = {target for _, target in bind_mounts(nginx)}
    assert {"/etc/nginx/nginx.conf", "/etc/nginx/conf.d", "/etc/letsencrypt", "/var/www/certbot"} <= targets
    assert "/etc/letsencrypt/live/mcp/fullchain.pem" in site
    assert "root /var/www/certbot;" in site
    assert "http://app:8008" in site and "8008" in prod["services"]["app"]["expose"]
    certbot = {target: source for source, target in bind_mounts(prod["services"]["certbot"])}
    nginx_sources = {target: source for source, target in bind_mounts(nginx)}
    assert certbot["/etc/letsencrypt"] == nginx_sources["/etc/letsencrypt"]
    assert certbot["/var/www/certbot"] == nginx_sources["/var/www/certbot"]
    script = (REPO / "setup-letsencrypt.sh").read_text()
    assert "CERT_NAME=mcp " in script
    assert "/etc/letsencrypt/live/mcp/fullchain.pem" in " ".join(prod["services"]["certbot"]["healthcheck"]["test"])


@pytest.mark.parametrize("path", [PROD, DEV], ids=["prod", "dev"])
def test_every_referenced_file_exists(path):
    for name, service in compose(path)["services"].items():
        build = service.get("build")
        if build:
            context = REPO / build["context"]
            assert context.is_dir(), f"{name}: build context {context}"
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: Dockerfile"
        env_file = service.get("env_file")
        if env_file:
            # .env is the operator's copy of .env.example (never in git).
            assert env_file == ".env" and (REPO / ".env.example").is_file(), name
        for source, target in bind_mounts(service):
            if source == ".":
                continue
            assert (REPO / source).exists(), f"{name}: {source} (mounted at {target})"
        command = service.get("command")
        if command and command[0].startswith("scripts/"):
            assert (REPO / command[0]).is_file(), f"{name}: {command[0]}"


@pytest.mark.parametrize("path", [PROD, DEV], ids=["prod", "dev"])
def test_no_secret_is_written_into_the_compose_file(path):
    for name, service in compose(path)["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if re.search(r"PASSWORD|SECRET|TOKEN|_KEY$", key):
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} must come from .env"
            credentials = re.search(r"://[^/:@]*:([^@/]*)@", INTERPOLATION.sub("${FROM_ENV}", value))
            if credentials:
                assert credentials.group(1) == "${FROM_ENV}", f"{name}: {key} has a literal password"


def test_every_interpolated_variable_is_documented_in_env_example():
    documented = env_example_names()
    used = set(INTERPOLATION.findall(PROD.read_text())) | set(INTERPOLATION.findall(DEV.read_text()))
    assert used - documented == set()


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    read = set()
    for path in (REPO / "mcpsite").glob("*.py"):
        read |= set(re.findall(r"env\.(?:str|bool|int|float|list|db_url|url|json|dict)\(\s*\"([A-Za-z_]+)\"",
                               path.read_text()))
    assert read, "no env.<type>(\"NAME\") calls found in mcpsite/: update this test"
    assert read - env_example_names() == set()


def test_the_entrypoint_and_image_settings_are_documented_in_env_example():
    documented = env_example_names()
    entrypoint = (REPO / "docker" / "entrypoint.sh").read_text()
    names = set(re.findall(r"\$\{([A-Z_]+):-", entrypoint)) - {"PYTHON", "HOST", "PORT"}
    names |= {"HEALTHCHECK_REQUIRE_TARGET", "MSSQL_PYTHON_DRIVER"}
    assert names - documented == set()
