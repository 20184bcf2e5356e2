"""Real components for the deployment tests: openssl certificates, nginx running the repository's
own configuration on loopback ports, and the app started through docker/entrypoint.sh.

nginx runs the files under nginx/ themselves, rewritten only where a test machine must differ
from the container (ports, file locations, the app's address, the user nginx runs as). Every
rewrite must match the real file, so a renamed path or port fails here instead of being skipped.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mcpsite.liveserver import free_port, process_stop, server_wait
from tests.services import require

REPO = Path(__file__).resolve().parents[2]
# The app's own variables: the app under test starts from the local defaults, not from the shell.
APP_ENV_PREFIXES = ("DJANGO_", "DATABASE_URL", "TARGET_", "MSSQL_", "REDIS_URL", "PUBLIC_URL", "ALLOWED_HOSTS")
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Referrer-Policy",
    "Content-Security-Policy",
)


def require_tool(name: str) -> str:
    """The tool's path; without it, CI fails loudly and a developer's machine skips with the reason."""
    require(name)
    return shutil.which(name)



def insecure_tls_context() -> ssl.SSLContext:
    """The test certificate is self-signed."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def make_letsencrypt_dir(root: Path) -> Path:
    """The layout certbot leaves in /etc/letsencrypt, with a self-signed certificate named "mcp"."""
    openssl = require_tool("openssl")
    live = root / "live" / "mcp"
    live.mkdir(parents=True)
    subprocess.run(
        [openssl, "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "2", "-subj", "/CN=mcp.test",
         "-addext", "subjectAltName=DNS:mcp.test,IP:127.0.0.1",
         "-keyout", str(live / "privkey.pem"), "-out", str(live / "fullchain.pem")],
        check=True, capture_output=True,
    )
    shutil.copy(live / "fullchain.pem", live / "chain.pem")
    # The RFC 7919 ffdhe2048 group, which is what certbot's ssl-dhparams.pem holds.
    subprocess.run(
        [openssl, "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe2048",
         "-out", str(root / "ssl-dhparams.pem")],
        check=True, capture_output=True,
    )
    return root


@dataclass
class NginxSite:
    prefix: Path
    conf: Path
    http_port: int
    https_port: int
    webroot: Path

    def https(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=10, context=insecure_tls_context())

    def http(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)

    def command(self, *args: str) -> list[str]:
        return [require_tool("nginx"), "-p", str(self.prefix), "-c", str(self.conf), *args]

    def log(self) -> str:
        path = self.prefix / "logs" / "stderr.log"
        return path.read_text() if path.exists() else ""


def nginx_version() -> tuple[int, ...]:
    output = subprocess.run([require_tool("nginx"), "-v"], capture_output=True, text=True).stderr
    return tuple(int(part) for part in re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", output).groups())


def replace_exactly(text: str, old: str, new: str, *, source: str) -> str:
    assert old in text, f"{source} no longer contains {old!r}: update tests/deploy/deploy_harness.py to match"
    return text.replace(old, new)


def render_main_conf(prefix: Path) -> str:
    text, source = (REPO / "nginx" / "nginx.conf").read_text(), "nginx/nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""  # as root, workers would drop to nobody
    text = replace_exactly(text, "user nginx;", user, source=source)
    text = replace_exactly(text, "worker_processes auto;", "worker_processes 1;", source=source)
    text = replace_exactly(text, "pid /run/nginx.pid;", f"pid {prefix}/nginx.pid;", source=source)
    text = replace_exactly(text, "/var/log/nginx/", f"{prefix}/logs/", source=source)
    temp_paths = "".join(
        f"    {kind}_temp_path {prefix}/temp/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = replace_exactly(text, "http {\n", "http {\n" + temp_paths, source=source)
    return replace_exactly(text, "include /etc/nginx/conf.d/*.conf;", f"include {prefix}/conf.d/*.conf;", source=source)


def render_site_conf(prefix: Path, *, letsencrypt: Path, http_port: int, https_port: int, upstream_port: int) -> str:
    text, source = (REPO / "nginx" / "conf.d" / "default.conf").read_text(), "nginx/conf.d/default.conf"
    http_listen = f"listen 127.0.0.1:{http_port} default_server;"
    text = replace_exactly(text, "listen 80 default_server;", http_listen, source=source)
    https_listen = f"listen 127.0.0.1:{https_port} ssl default_server;"
    if nginx_version() < (1, 25, 1):
        # Debian 12's nginx (1.22) predates the `http2` directive; the image's nginx (1.30) has it.
        text = replace_exactly(text, "http2 on;", "", source=source)
        https_listen = f"listen 127.0.0.1:{https_port} ssl http2 default_server;"
    text = replace_exactly(text, "listen 443 ssl default_server;", https_listen, source=source)
    text = replace_exactly(text, "/etc/letsencrypt/", f"{letsencrypt}/", source=source)
    text = replace_exactly(text, "/var/www/certbot", str(prefix / "www"), source=source)
    return replace_exactly(text, "http://app:8008", f"http://127.0.0.1:{upstream_port}", source=source)


def render_site(prefix: Path, *, letsencrypt: Path, upstream_port: int) -> NginxSite:
    """Write nginx/nginx.conf and nginx/conf.d/default.conf into `prefix`, pointed at loopback."""
    for sub in ("conf.d", "www", "logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    http_port, https_port = free_port(), free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render_main_conf(prefix))
    (prefix / "conf.d" / "default.conf").write_text(
        render_site_conf(prefix, letsencrypt=letsencrypt, http_port=http_port, https_port=https_port,
                         upstream_port=upstream_port)
    )
    return NginxSite(prefix=prefix, conf=conf, http_port=http_port, https_port=https_port, webroot=prefix / "www")


def start_nginx(site: NginxSite) -> subprocess.Popen:
    with (site.prefix / "logs" / "stderr.log").open("wb") as log:
        process = subprocess.Popen(
            site.command("-g", "daemon off;"), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        server_wait(site.https_port, process=process, timeout=10)
        server_wait(site.http_port, process=process, timeout=10)
    except (RuntimeError, TimeoutError) as error:
        process_stop(process)
        raise RuntimeError(f"nginx did not start: {error}\n{site.log()}") from None
    return process


def app_environment(var_dir: Path, port: int) -> dict[str, str]:
    """The environment docker/entrypoint.sh gets in the tests: local settings, loopback, one worker."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(APP_ENV_PREFIXES)}
    env.update(
        DJANGO_ENV="local",
        DJANGO_SETTINGS_MODULE="mcpsite.settings",
        VAR_DIR=str(var_dir),
        PYTHON=sys.executable,
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        PROMETHEUS_MULTIPROC_DIR=str(var_dir / "metrics"),  # the image's /tmp/mcp-metrics is this machine's, shared
        LOG_LEVEL="WARNING",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def start_app(var_dir: Path, port: int, **settings: str) -> tuple[subprocess.Popen, dict[str, str]]:
    """The real app, started the way the image starts it: `docker/entrypoint.sh web` (with these settings)."""
    env = {**app_environment(var_dir, port), **settings}
    log_path = var_dir / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(REPO / "docker" / "entrypoint.sh"), "web"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        server_wait(port, process=process, timeout=30)
    except (RuntimeError, TimeoutError) as error:
        process_stop(process)
        raise RuntimeError(f"the app did not start: {error}\n{log_path.read_text()[-3000:]}") from None
    return process, env
