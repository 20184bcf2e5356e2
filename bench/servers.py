"""The servers under test, each one uvicorn process, and what /proc says about them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

from tests.live import ROOT, LiveServer, free_port

_TICKS = os.sysconf("SC_CLK_TCK")
# uvicorn closes idle keep-alive connections after 5 s; a client that reuses one as it closes loses
# that request (the SDK's SSE client does not retry its POSTs). Slow scenarios leave such gaps, so
# both servers get nginx's default keep-alive instead: the race is the harness's, not a server cost.
_SERVER_ENV = {"UVICORN_TIMEOUT_KEEP_ALIVE": "75"}


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float  # user + system time of the whole process (all threads)
    rss_kb: int
    hwm_kb: int  # peak RSS since start or since the last reset_peak()


def proc_sample(pid: int) -> ProcSample:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15 of proc(5))
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return ProcSample(cpu, int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0]))


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+), so the next peak belongs to one scenario."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass
class Target:
    """A running server as the driver sees it."""

    name: str
    base_url: str
    pid: int
    token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


class Product:
    """The product as deployed: one uvicorn worker, a real DOT token, audit log and read-only mode on."""

    def __init__(self, name: str, **env: str) -> None:
        self.name = name
        env = {"AUDIT_LOG": "true", "READ_ONLY_MODE": "true", "REDIS_URL": "", **_SERVER_ENV, **env}
        self.live = LiveServer(Path(tempfile.mkdtemp(prefix=f"bench-{name}-")), env=env)
        self.token: str | None = None

    def start(self) -> Target:
        self.live.start()
        if self.token is None:
            self.token = self.live.token(username="bench", scope="sql:read")
        return Target(self.name, self.live.base_url, self.live.process.pid, self.token)

    def stop(self) -> None:
        self.live.stop()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.live.var_dir, ignore_errors=True)

    @property
    def demo_db(self) -> Path:
        return self.live.var_dir / "demo.sqlite3"


class Bare:
    """bench/bare_server.py under uvicorn, one worker, on a copy of the product's demo database."""

    def __init__(self, name: str, demo_db: Path) -> None:
        self.name, self.demo_db, self.port = name, demo_db, free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-")) / "server.log"

    def start(self) -> Target:
        env = {**os.environ, **_SERVER_ENV, "BENCH_DB": str(self.demo_db), "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "bench.bare_server:app", "--host", "127.0.0.1", "--port",
                 str(self.port), "--workers", "1", "--timeout-graceful-shutdown", "2"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bare server exited:\n{self.log_path.read_text()}")
            try:
                httpx2.get(f"{base}/health", timeout=2)
                return Target(self.name, base, self.process.pid)
            except httpx2.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the bare server did not answer within 30 s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.log_path.parent, ignore_errors=True)
