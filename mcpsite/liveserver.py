"""A real uvicorn serving the product on loopback, for the tests and bench/: the one launcher and readiness wait.

`LiveServer(var_dir).start()` runs `python -m uvicorn mcpsite.asgi:application` on a free 127.0.0.1 port
with DJANGO_ENV=local and its own VAR_DIR (Django's database and the demo target copied from a template
migrated once per process), waits until /health answers, and `stop()` ends it with every worker. Nothing
here is imported by the product; it lives outside tests/ because bench/ runs servers too.
"""

from __future__ import annotations

import atexit
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_APP = "mcpsite.asgi:application"
# The shell's own app settings must not leak into a server that starts from the local defaults.
_APP_ENV_PREFIXES = ("DJANGO_", "TARGET_", "MSSQL_", "DATABASE_URL")


def free_port() -> int:
    """A loopback port nothing listens on once this returns."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_wait(port: int, *, process: subprocess.Popen | None = None, path: str | None = None,
                timeout: float = 30.0) -> None:
    """Return once 127.0.0.1:`port` accepts connections and, with `path`, answers GET `path` with 200 or 503.

    Raises RuntimeError if `process` exits first and TimeoutError after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited with {process.returncode} before answering on port {port}")
        try:
            if path is None:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            # A target that does not answer makes /health wait for its probes (a few seconds, bounded by
            # the server): give it that long rather than ask again and again.
            elif _status(port, path, timeout=12) in (200, 503):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port}{path or ''} after {timeout:g}s")


def _status(port: int, path: str, *, timeout: float) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def process_stop(process: subprocess.Popen, *, sig: int = signal.SIGTERM) -> None:
    """Stop a process started with start_new_session=True, with everything it spawned."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


_TEMPLATE: Path | None = None


def _template_var_dir(env: dict[str, str]) -> Path:
    """Migrate Django's database and build the demo target once per process; servers copy them."""
    global _TEMPLATE
    if _TEMPLATE is None:
        template = Path(tempfile.mkdtemp(prefix="live-template-"))
        atexit.register(shutil.rmtree, template, ignore_errors=True)
        env = {**env, "VAR_DIR": str(template)}
        for args in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
            subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                           timeout=300)
        _TEMPLATE = template
    return _TEMPLATE


# Run by `manage.py shell` in the server's environment: the product's own token_issue, for a user
# (with the write permission when sql:write is asked) and a client created on first use.
_TOKEN_SCRIPT = """\
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth_ext.grants import token_issue
user, _ = get_user_model().objects.get_or_create(username={username!r})
if "sql:write" in {scope!r}.split():
    user.user_permissions.add(Permission.objects.get(codename="write_sql"))
app, _ = get_application_model().objects.get_or_create(name={client!r}, defaults=dict(
    user=user, client_type="public", authorization_grant_type="authorization-code",
    redirect_uris="http://127.0.0.1/cb"))
raw = token_issue(user=user, application=app, scope={scope!r}, expires_in=3600)
if {resource!r}:
    issued = get_access_token_model().objects.filter(user=user, application=app).latest("pk")
    issued.resource = [{resource!r}]
    issued.save(update_fields=["resource"])
print(raw)
"""


class LiveServer:
    """`python -m uvicorn <app>` on 127.0.0.1 with DJANGO_ENV=local and the given VAR_DIR, env and workers."""

    def __init__(self, var_dir: Path, *, env: dict[str, str] | None = None, workers: int = 1,
                 app: str = PRODUCT_APP) -> None:
        self.var_dir, self.port, self.workers, self.app = var_dir, free_port(), workers, app
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(_APP_ENV_PREFIXES)},
            "DJANGO_SETTINGS_MODULE": "mcpsite.settings", "DJANGO_ENV": "local", "VAR_DIR": str(var_dir),
            "PYTHONUNBUFFERED": "1", **(env or {}),
        }
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = var_dir / f"server-{self.port}.log"  # servers may share a VAR_DIR (test_sse_relay)

    def start(self) -> LiveServer:
        """Put the product's migrated databases in VAR_DIR (unless there already), then serve()."""
        template = _template_var_dir(self.env)
        for name in ("django.sqlite3", "demo.sqlite3", "secret_key"):
            if (template / name).exists() and not (self.var_dir / name).exists():
                shutil.copy(template / name, self.var_dir / name)
        return self.serve()

    def serve(self) -> LiveServer:
        """Run uvicorn on `app` and wait for its /health; on failure, raise with the server's log."""
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", str(self.workers), "--timeout-graceful-shutdown", "2"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            server_wait(self.port, process=self.process, path="/health", timeout=30)
        except (RuntimeError, TimeoutError) as error:
            self.stop()
            raise RuntimeError(f"uvicorn did not start: {error}\n{self.log()}") from None
        return self

    def stop(self) -> None:
        if self.process is not None:
            process_stop(self.process)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def manage(self, *args: str) -> str:
        """`manage.py <args>` in the server's environment (its databases); its stdout."""
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def python(self, code: str) -> str:
        return self.manage("shell", "--no-imports", "-c", code).strip()

    def token(self, *, username: str = "alice", scope: str = "sql:read", resource: str = "",
              client: str = "tests") -> str:
        """A fresh access token from the product's token_issue, restricted to `resource` when given."""
        script = _TOKEN_SCRIPT.format(username=username, scope=scope, resource=resource, client=client)
        return self.python(script).splitlines()[-1]
