"""The image's build and start-up steps, run here with the repository's virtualenv.

No container engine runs on our machines, so the Dockerfile itself is read, and the commands it
runs at build time (collectstatic with the production storage) and that the migrate job runs at
start (check --deploy) are run for real against production settings.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys

import pytest

from mcpsite.liveserver import free_port
from tests.deploy.deploy_harness import REPO, app_environment

pytestmark = pytest.mark.timeout(120)

DOCKERFILE = (REPO / "Dockerfile").read_text()


def production_environment(tmp_path) -> dict[str, str]:
    env = app_environment(tmp_path / "var", free_port())
    env.update(
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="mcp.example.com",
        PUBLIC_URL="https://mcp.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'django.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "staticfiles"),
    )
    return env


def test_dockerfile_builds_a_non_root_image_with_a_healthcheck():
    assert re.search(r"^USER app$", DOCKERFILE, flags=re.MULTILINE)
    healthcheck = r"^HEALTHCHECK .*\n\s+CMD \[\"python\", \"/app/docker/healthcheck.py\"\]"
    assert re.search(healthcheck, DOCKERFILE, re.MULTILINE)
    assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in DOCKERFILE
    assert "requirements/prod.txt" in DOCKERFILE and (REPO / "requirements" / "prod.txt").is_file()
    for image in re.findall(r"^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE, flags=re.MULTILINE):
        assert ":" in image and not image.endswith(":latest")
    entrypoint = (REPO / "docker" / "entrypoint.sh").read_text()
    assert "mcpsite.asgi:application" in entrypoint
    assert "--proxy-headers" in entrypoint and '--workers "$WEB_CONCURRENCY"' in entrypoint
    assert 'export WEB_CONCURRENCY="${WEB_CONCURRENCY:-2}"' in entrypoint  # what the settings and checks read


def test_dockerignore_keeps_secrets_and_state_out_of_the_image():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", "var", "certbot"} <= ignored


def test_the_build_time_collectstatic_works_with_the_production_storage(tmp_path):
    """The Dockerfile's collectstatic step, with the variables it sets, on the production settings."""
    step = r"^RUN (SECRET_KEY=.*?)python manage.py collectstatic([^\n]*)"
    run = re.search(step, DOCKERFILE, re.MULTILINE | re.DOTALL)
    assert run, "the Dockerfile no longer runs collectstatic at build time"
    build_env = dict(re.findall(r"([A-Z_]+)=(\S+)", run.group(1)))
    env = {**production_environment(tmp_path), **build_env, "VAR_DIR": str(tmp_path / "build-var")}
    args = [arg for arg in run.group(2).split("&&")[0].split() if arg != "\\"]
    result = subprocess.run([sys.executable, "manage.py", "collectstatic", *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    static_root = tmp_path / "staticfiles"
    assert (static_root / "staticfiles.json").is_file(), "no manifest: not the production storage"
    assert list(static_root.glob("admin/css/base.*.css.gz")), "no hashed, compressed admin CSS"


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    """`manage.py check --deploy`, which the migrate job runs, has nothing to say in production but that
    it cannot yet tell what the SQL target's login may do (this environment has no target database)."""
    result = subprocess.run(
        [str(REPO / "docker" / "entrypoint.sh"), "manage", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=production_environment(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert "System check identified 1 issue (0 silenced)" in result.stderr, result.stdout + result.stderr
    assert "(sqltools.W011) Could not tell whether the SQL target login can write" in result.stderr


def test_the_image_driver_choice_reaches_the_target_database(tmp_path):
    """The image sets MSSQL_PYTHON_DRIVER=mssql_python: the MSSQL_* target must then use mssql-python."""
    [driver] = re.findall(r"^\s+MSSQL_PYTHON_DRIVER=(\S+)", DOCKERFILE, flags=re.MULTILINE)  # the ENV line
    assert driver == "mssql_python"
    env = production_environment(tmp_path)
    env.update(MSSQL_HOST="sql.example.com", MSSQL_USER="reader", MSSQL_PASSWORD="x", MSSQL_DATABASE="Sales",
               MSSQL_PYTHON_DRIVER=driver)
    code = "import django, json; django.setup(); from django.conf import settings; " \
           "print(json.dumps(settings.DATABASES['target']['OPTIONS']))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]).get("python_driver") == "mssql_python"


def test_the_entrypoints_default_worker_count_reaches_the_settings_and_checks(tmp_path):
    """uvicorn gets two workers by default; the settings and `check` must see two as well (without Redis that is
    mcp_bridge.W002, and elicitation sessions stay off)."""
    env = {**app_environment(tmp_path / "var", free_port()), "REDIS_URL": ""}
    del env["WEB_CONCURRENCY"]
    script = "from django.conf import settings; print('sessions', settings.MCP_BRIDGE['ELICITATION_SESSIONS'])"
    done = subprocess.run([str(REPO / "docker" / "entrypoint.sh"), "manage", "shell", "-c", script], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert "sessions False" in done.stdout, done.stdout + done.stderr
    checked = subprocess.run([str(REPO / "docker" / "entrypoint.sh"), "manage", "check"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert "mcp_bridge.W002" in checked.stdout + checked.stderr
