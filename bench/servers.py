"""The servers under test, each one uvicorn process, and what /proc says about them."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mcpsite.liveserver import LiveServer

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


class Server:
    """One uvicorn worker under test, on its own var/ directory: the product, or bench/bare_server.py."""

    def __init__(self, name: str, *, app: str = "mcpsite.asgi:application", **env: str) -> None:
        self.name, self.product = name, app == "mcpsite.asgi:application"
        self.live = LiveServer(Path(tempfile.mkdtemp(prefix=f"bench-{name}-")), env={**_SERVER_ENV, **env}, app=app)
        self.token: str | None = None

    def start(self) -> Target:
        """The product gets its migrated databases and, once, a real DOT token; the bare server needs neither."""
        if not self.product:
            self.live.serve()
            return Target(self.name, self.live.base_url, self.live.process.pid)
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


def product(name: str, **env: str) -> Server:
    """The product as deployed: a real DOT token, audit log and read-only mode on (env may change them)."""
    return Server(name, **{"AUDIT_LOG": "true", "READ_ONLY_MODE": "true", "REDIS_URL": "", **env})


def bare(name: str, demo_db: Path, **env: str) -> Server:
    """bench/bare_server.py on the product's copy of the demo database."""
    return Server(name, app="bench.bare_server:app", BENCH_DB=str(demo_db), **env)
