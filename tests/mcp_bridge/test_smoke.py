"""`manage.py mcp_smoke` against a live server: the whole connector path, and its failures."""

from __future__ import annotations

import subprocess
import sys

from mcpsite.liveserver import ROOT


def _smoke(live, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "mcp_smoke", "--url", f"{live.base_url}/mcp", *args],
                          cwd=ROOT, env=live.env, capture_output=True, text=True, timeout=180)


def _user(live, username: str, password: str) -> None:
    live.python("from django.contrib.auth import get_user_model\n"
                f"u, _ = get_user_model().objects.get_or_create(username={username!r})\n"
                f"u.set_password({password!r}); u.save()")


def test_full_connector_path_passes_every_step(live):
    _user(live, "smoker", "correct horse battery staple")
    done = _smoke(live, "--username", "smoker", "--password", "correct horse battery staple")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert all(line.startswith("PASS") for line in lines)
    for step in ("1. protected resource metadata", "2. authorization server metadata", "3. dynamic client registration",
                 "4. sign in and approve consent", "5. code exchange", "6. /mcp", "7. /sse", "8. /chatgpt/sse"):
        assert any(step in line for line in lines), step
    assert sum(": execute_sql:" in line for line in lines) == 2 and any(": fetch" in line for line in lines)


def test_token_mode_skips_to_the_mcp_steps(live, token):
    done = _smoke(live, "--token", token)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1. protected resource metadata" not in done.stdout and "6. /mcp" in done.stdout


def test_wrong_password_fails_with_a_non_zero_exit(live):
    _user(live, "smoker2", "right password here")
    done = _smoke(live, "--username", "smoker2", "--password", "wrong")
    assert done.returncode != 0
    assert "FAIL  4. sign in and approve consent" in done.stdout


def test_bad_token_fails_every_mcp_step(live):
    done = _smoke(live, "--token", "not-a-token")
    assert done.returncode != 0 and "FAIL" in done.stdout and "PASS" not in done.stdout
