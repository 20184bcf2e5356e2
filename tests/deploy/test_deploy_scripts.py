"""The deployment scripts: shellcheck-clean, and setup-letsencrypt.sh behaves before it needs Docker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from mcpsite.liveserver import free_port, process_stop, server_wait
from tests.deploy.deploy_harness import REPO, app_environment, require_tool

pytestmark = pytest.mark.timeout(60)

SETUP = REPO / "setup-letsencrypt.sh"
SCRIPTS = [SETUP, *sorted((REPO / "docker").glob("*.sh"))]


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(path.relative_to(REPO)) for path in SCRIPTS])
def test_shellcheck_is_clean(script):
    result = subprocess.run([require_tool("shellcheck"), "--external-sources", str(script)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(path.relative_to(REPO)) for path in SCRIPTS])
def test_scripts_are_executable(script):
    # The official nginx image skips /docker-entrypoint.d scripts that are not executable
    # (docker/*.sh are mounted there).
    assert script.stat().st_mode & 0o111


def run_setup(*args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path or os.environ.get("PATH", "")}
    for name in ("DOMAIN", "LETSENCRYPT_EMAIL", "LETSENCRYPT_STAGING"):
        env.pop(name, None)
    return subprocess.run([shutil.which("bash"), str(SETUP), *args], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)


def test_setup_help_prints_the_usage():
    result = run_setup("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: ./setup-letsencrypt.sh")
    for option in ("--domain", "--email", "--staging", "--production", "--force", "--non-interactive"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "not a domain"], "not a valid domain name"),
        (["--email", "nobody"], "not a valid email address"),
        (["--bogus"], "unknown option"),
        (["--domain"], "needs a value"),
    ],
)
def test_setup_refuses_bad_arguments_before_touching_anything(args, message):
    result = run_setup(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_setup_stops_when_docker_is_missing(tmp_path):
    # A PATH with only what the script needs before its prerequisite check.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname",):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    result = run_setup("--domain", "mcp.example.com", "-y", path=str(bin_dir))
    assert result.returncode == 1
    assert "docker is not installed" in result.stderr


def test_make_run_takes_no_forwarded_address_from_a_local_program(tmp_path):
    """`make run` has no proxy in front: an X-Forwarded-For from a local program is not its address, so
    METRICS_ALLOWED_IPS (and the registration rate limit) cannot be talked past."""
    port = free_port()
    env = {**app_environment(tmp_path, port), "PY": sys.executable, "METRICS_TOKEN": "t0ken-for-the-test",
           "METRICS_ALLOWED_IPS": "10.9.9.9"}
    env.pop("PROMETHEUS_MULTIPROC_DIR")  # one process: the client's in-process registry
    with (tmp_path / "run.log").open("wb") as log:
        process = subprocess.Popen([str(REPO / "scripts" / "run.sh")], cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        server_wait(port, process=process, path="/health", timeout=60)

        def metrics(**headers: str) -> int:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        assert metrics(**{"X-Forwarded-For": "10.9.9.9"}) == 401
        assert metrics(Authorization="Bearer t0ken-for-the-test") == 200
    finally:
        process_stop(process)
