"""A real uvicorn serving the product on loopback, with its own var/ directory and databases."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import subprocess
import sys
import time
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_TEMPLATE: Path | None = None


def _template_var_dir(env: dict[str, str]) -> Path:
    """Migrate Django's database and build the demo target once per test run; servers copy them."""
    global _TEMPLATE
    if _TEMPLATE is None:
        template = Path(tempfile.mkdtemp(prefix="live-template-"))
        atexit.register(shutil.rmtree, template, ignore_errors=True)
        env = {**env, "VAR_DIR": str(template)}
        for args in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
            subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
        _TEMPLATE = template
    return _TEMPLATE


class LiveServer:
    """`python -m uvicorn mcpsite.asgi:application` on 127.0.0.1 with DJANGO_ENV=local and a fresh VAR_DIR."""

    def __init__(self, var_dir: Path, *, env: dict[str, str] | None = None, workers: int = 1,
                 app: str = "mcpsite.asgi:application") -> None:
        self.var_dir, self.port, self.workers, self.app = var_dir, free_port(), workers, app
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TARGET_", "MSSQL_", "DATABASE_URL"))},
            "DJANGO_SETTINGS_MODULE": "mcpsite.settings", "DJANGO_ENV": "local", "VAR_DIR": str(var_dir),
            "PYTHONUNBUFFERED": "1", **(env or {}),
        }
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = var_dir / "server.log"

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def python(self, code: str) -> str:
        return self.manage("shell", "--no-imports", "-c", code).strip()

    def start(self) -> "LiveServer":
        template = _template_var_dir(self.env)
        for name in ("django.sqlite3", "demo.sqlite3", "secret_key"):
            if (template / name).exists() and not (self.var_dir / name).exists():
                shutil.copy(template / name, self.var_dir / name)
        return self.serve()

    def serve(self) -> "LiveServer":
        """Run uvicorn on `app` and wait for its /health (start() first puts the product's databases in place)."""
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(self.workers), "--timeout-graceful-shutdown", "2"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{self.log()}")
            try:
                # A target that does not answer makes /health wait for its probes (a few seconds, bounded by
                # the server): give it that long rather than ask again and again.
                if httpx2.get(f"{self.base_url}/health", timeout=12).status_code in (200, 503):
                    return self
            except httpx2.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"uvicorn did not answer within 30 s:\n{self.log()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def token(self, *, username: str = "alice", scope: str = "sql:read", resource: str = "", client: str = "tests") -> str:
        """A fresh access token, created the way an operator's issue_token would."""
        return self.python(
            "import datetime, secrets\n"
            "from django.contrib.auth import get_user_model\nfrom django.utils import timezone\n"
            "from oauth2_provider.models import get_access_token_model, get_application_model\n"
            f"user, _ = get_user_model().objects.get_or_create(username={username!r})\n"
            "from django.contrib.auth.models import Permission\n"
            f"if 'sql:write' in {scope!r}.split(): user.user_permissions.add(Permission.objects.get(codename='write_sql'))\n"
            f"app, _ = get_application_model().objects.get_or_create(name={client!r}, defaults=dict(user=user, "
            "client_type='public', authorization_grant_type='authorization-code', redirect_uris='http://127.0.0.1/cb'))\n"
            "raw = secrets.token_urlsafe(32)\n"
            "get_access_token_model().objects.create(user=user, application=app, token=raw, "
            f"expires=timezone.now() + datetime.timedelta(hours=1), scope={scope!r}, resource=[{resource!r}] if {resource!r} else [])\n"
            "print(raw)"
        ).splitlines()[-1]
