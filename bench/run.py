"""One benchmark run: the product, the bare SDK server and the raw query, measured side by side."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from bench.drive import TRANSPORTS, Call, Measurement, measure
from bench.floor import raw_query
from bench.policy import POLICY_SETUP
from bench.servers import Server, Target, bare, product, tree_cpu
from bench.streams import raise_open_files, sse_streams
from bench.throughput import throughput
from mcpsite.liveserver import ROOT

SELECT_1 = Call("select_1", "execute_sql", {"query": "SELECT 1"})
SELECT_1_AGAIN = Call(
    "select_1_attr", "execute_sql", {"query": "SELECT 1"}
)  # the attribution turns, apart from the main ones
SELECT_N = Call(
    "select_n", "execute_sql", {"query": "SELECT {n}"}, numbered=True
)  # a new text each call: parsed each time
ROWS_100 = Call("rows_100", "execute_sql", {"query": "SELECT * FROM order_lines LIMIT 100"})
ROWS_10K = Call("rows_10k", "execute_sql", {"query": "SELECT * FROM order_lines LIMIT 10000"})
ROWS_10 = Call("rows_10", "execute_sql", {"query": "SELECT * FROM order_lines LIMIT 10"})
CATALOG = [
    Call("list_tables", "list_tables", {}),
    Call("describe_table", "describe_table", {"table_name": "orders"}),
    Call("get_table_sample", "get_table_sample", {"table_name": "orders", "limit": 10}),
]


def local_redis() -> str:
    """BENCH_REDIS_URL, else a spare database on a Redis answering on loopback, else none."""
    if "BENCH_REDIS_URL" in os.environ:
        return os.environ["BENCH_REDIS_URL"]
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return "redis://127.0.0.1:6379/14"
    except OSError:
        return ""


@dataclass(frozen=True)
class Plan:
    calls: int = 1000  # per scenario and round
    rounds: int = 3  # bare and product take turns, round by round; each figure is the median of its rounds
    calls_10k: int = 40
    streams: int = 500
    fresh_for_peak: bool = True  # restart before each 10k scenario so its peak RSS is its own
    raw_calls: int = 300
    concurrency: tuple[int, ...] = (1, 10)
    redis_url: str = field(default_factory=local_redis)  # production's topology: cache and SSE relay on Redis
    attribution: bool = True  # SELECT 1 on mcp-2026 again without Redis, then without the audit log
    policy_calls: int = 300  # in-process statement_policy timings of the three-table join, each kind
    throughput_calls: int = 3000  # per round, SELECT 1 by lean clients, one worker against two
    throughput_clients: int = 10
    startups: int = 3  # server starts and manage.py commands timed for their CPU
    catalog: bool = True  # list_tables, describe_table, get_table_sample (no bare counterpart, no target)

    @classmethod
    def quick(cls) -> Plan:
        """Every scenario, server and check once or twice: proves the harness runs, measures nothing."""
        return cls(calls=2, rounds=1, calls_10k=2, streams=10, fresh_for_peak=False, raw_calls=2, concurrency=(1, 2),
                   attribution=False, policy_calls=3, throughput_calls=20, throughput_clients=2, startups=1)


@dataclass
class Run:
    """The servers of one run and what was measured on them."""

    plan: Plan
    log: Callable[[str], None] = print
    measurements: list[Measurement] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)

    def start(self) -> None:
        redis = self.plan.redis_url
        self.servers["product"] = product("product", REDIS_URL=redis)
        self.servers["product-10k"] = product(
            "product-10k", REDIS_URL=redis, MAX_ROWS="10000", MAX_RESULT_CHARS="10000000"
        )
        self.servers["product-2w"] = product("product-2w", workers=2, REDIS_URL=redis)
        if self.plan.attribution:
            if redis:  # LocMemCache: no remembered token checks, every call reads the database
                self.servers["product-no-redis"] = product("product-no-redis")
            self.servers["product-no-audit"] = product("product-no-audit", REDIS_URL=redis, AUDIT_LOG="false")
        # The first start builds the migrated template and the demo database the bare servers read.
        self.targets["product"] = self.servers["product"].start()
        # The same server, called by a user whose group has a data policy: three tables allowed, one column
        # masked, one table's rows filtered (bench/policy.py).
        live = self.servers["product"].live
        live.python(POLICY_SETUP.format(username="bench-policy"))
        self.targets["product-policy"] = Target("product-policy", live.base_url, live.process.pid,
                                                live.token(username="bench-policy", scope="sql:read"))
        demo_db = self.servers["product"].demo_db
        for name in ("bare", "bare-10k"):
            self.servers[name] = bare(name, demo_db)
        if self.plan.attribution:  # the product freezes its startup heap out of the collector; the floor does not
            self.servers["bare-10k-frozen"] = bare("bare-10k-frozen", demo_db, BENCH_GC_FREEZE="1")
        rest = [name for name in self.servers if name != "product"]
        with ThreadPoolExecutor(len(rest)) as pool:  # each start mostly waits on a subprocess
            self.targets.update(zip(rest, pool.map(lambda name: self.servers[name].start(), rest)))

    def restart(self, name: str) -> None:
        self.servers[name].stop()
        self.targets[name] = self.servers[name].start()

    def close(self) -> None:
        for server in self.servers.values():
            server.close()

    def scenario(
        self, name: str, transport: str, call: Call, clients: int, calls: int, warmup_call: Call | None = None
    ) -> None:
        self.record(self.measure(name, transport, call, clients, calls, warmup_call))

    def turns(self, names: tuple[str, ...], transport: str, call: Call, clients: int, calls: int) -> None:
        """The servers take turns for `rounds` rounds, so that a burst of load elsewhere hits them alike."""
        rounds: dict[str, list[Measurement]] = {name: [] for name in names}
        for _ in range(self.plan.rounds):
            for name in names:
                rounds[name].append(self.measure(name, transport, call, clients, calls, None))
        for name in names:
            self.record(Measurement.median_of(rounds[name]))

    def measure(
        self, name: str, transport: str, call: Call, clients: int, calls: int, warmup_call: Call | None
    ) -> Measurement:
        target = self.targets[name]
        return anyio.run(
            lambda: measure(target, transport, call, clients=clients, calls=calls, warmup_call=warmup_call)
        )

    def record(self, m: Measurement) -> None:
        self.measurements.append(m)
        self.log(
            f"  {m.server:<16} {m.scenario:<16} {m.transport:<10} c={m.clients:<3} p50 {m.p50_ms:8.2f} ms  "
            f"cpu {m.cpu_ms_per_call:7.2f} ms/call  {m.calls_per_s:7.1f}/s  peak {m.peak_rss_mb:6.1f} MB"
            + (f"  {m.errors} ERRORS" if m.errors else "")
        )


def run(plan: Plan, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Start every server, measure every scenario, stop them; the result as plain data."""
    raise_open_files(4 * plan.streams + 1024)
    started = time.monotonic()
    this = Run(plan, log)
    try:
        this.start()
        _startup(this)
        _policy(this)
        _raw(this)
        _rows_10k(this)
        _scenarios(this)
        _throughput(this)
        _streams(this)
        this.extra["revocation"] = revocation_check(this.servers["product"])
        log(f"revocation takes effect on the next call: {this.extra['revocation']}")
    finally:
        this.close()
    return {
        "plan": {**plan.__dict__, "redis_url": plan.redis_url or "(none: LocMemCache, no SSE relay)"},
        "measurements": [m.as_dict() for m in this.measurements],
        **this.extra,
        "duration_s": round(time.monotonic() - started, 1),
    }


def _raw(this: Run) -> None:
    this.log("raw query in-process (the physical floor)")
    db, plan = this.servers["product"].demo_db, this.plan
    this.extra["raw"] = [
        raw_query(db=db, sql=c.arguments["query"], calls=n)
        for c, n in ((SELECT_1, plan.raw_calls), (ROWS_100, plan.raw_calls), (ROWS_10K, plan.calls_10k))
    ]
    for r in this.extra["raw"]:
        this.log(
            f"  {r['sql']:<40} p50 {r['p50_ms']:8.3f} ms  cpu {r['cpu_ms_per_call']:7.3f} ms  {r['json_bytes']} bytes"
        )


def _rows_10k(this: Run) -> None:
    this.log("10,000 rows (MAX_ROWS=10000), a fresh server per scenario for its own peak RSS")
    for transport in TRANSPORTS:
        for clients in this.plan.concurrency:
            for name in ("bare-10k", "product-10k"):
                if this.plan.fresh_for_peak:
                    this.restart(name)
                this.scenario(name, transport, ROWS_10K, clients, this.plan.calls_10k, warmup_call=ROWS_10)
    if "bare-10k-frozen" in this.targets:
        this.log("10,000 rows on the bare server with the product's startup freeze (gc.freeze), for attribution")
        for clients in this.plan.concurrency:
            this.scenario("bare-10k-frozen", "mcp-2026", ROWS_10K, clients, this.plan.calls_10k, warmup_call=ROWS_10)


def _scenarios(this: Run) -> None:
    this.log(f"execute_sql and the catalog tools, {this.plan.calls} calls per scenario")
    for call in (SELECT_1, ROWS_100, *(CATALOG if this.plan.catalog else ())):
        for transport in TRANSPORTS:
            for clients in this.plan.concurrency:
                names = ("bare", "product") if call.tool == "execute_sql" else ("product",)
                if call is SELECT_1:
                    names += ("product-policy",)
                this.turns(names, transport, call, clients, this.plan.calls)
    this.log("where the time goes: SELECT 1 without Redis, without the audit log, and with a new SQL text each call")
    if this.plan.attribution:
        # Against servers that have served nothing yet, `product` and its baseline start afresh too: a server's
        # `SELECT 1` settles ~0.1 ms higher after its first ~8,000 calls, and by now both have served thousands.
        for name in ("bare", "product"):
            this.restart(name)
    for clients in this.plan.concurrency:
        attribution = tuple(name for name in ("product-no-redis", "product-no-audit") if name in this.targets)
        if attribution:
            this.turns(("bare", "product", *attribution), "mcp-2026", SELECT_1_AGAIN, clients, this.plan.calls)
        this.turns(("bare", "product"), "mcp-2026", SELECT_N, clients, this.plan.calls)


def _startup(this: Run) -> None:
    """CPU to start: the server until /health answers (uvicorn and its worker), and manage.py commands."""
    this.log("startup CPU: the server until /health answers, and manage.py commands")
    server = this.servers["product-10k"]  # restarted before each 10,000-row scenario anyway
    live = server.live
    runs: dict[str, list[float]] = {"server": [], "manage.py check": [], "manage.py shell -c pass": []}
    for _ in range(this.plan.startups):
        server.stop()
        this.targets[server.name] = server.start()
        runs["server"].append(round(tree_cpu(live.process.pid), 2))
        for label, args in (("manage.py check", ["check"]), ("manage.py shell -c pass", ["shell", "-c", "pass"])):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                           env=live.env, capture_output=True, check=True, timeout=300)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            runs[label].append(round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2))
    this.extra["startup"] = {label: {"cpu_s": sorted(v), "median_cpu_s": sorted(v)[len(v) // 2] if v else None}
                             for label, v in runs.items()}
    for label, v in this.extra["startup"].items():
        this.log(f"  {label:<26} CPU {v['cpu_s']} s")


def _policy(this: Run) -> None:
    """guard + policy + rewrite of a three-table join under a row filter and a mask, in-process (bench/policy.py)."""
    this.log("statement policy in-process: a three-table join for a caller under a data policy")
    live = this.servers["product"].live
    done = subprocess.run(
        [sys.executable, "-m", "bench.policy", "bench-policy", str(this.plan.policy_calls)],
        env=live.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    this.extra["policy"] = json.loads(done.stdout.strip().splitlines()[-1])
    for label in ("seen_before", "new"):
        r = this.extra["policy"][label]
        this.log(
            f"  {label:<12} p50 {r['p50_ms']:.3f} ms  p95 {r['p95_ms']:.3f} ms  cpu {r['cpu_ms_per_call']:.3f} ms/call"
        )


def _throughput(this: Run) -> None:
    """SELECT 1 by lean clients replaying the SDK's request: one uvicorn worker against two, taking turns."""
    plan = this.plan
    this.log(f"throughput: SELECT 1, {plan.throughput_clients} lean clients, uvicorn --workers 1 and 2")
    rounds: dict[str, list[dict]] = {"product": [], "product-2w": []}
    this.restart("product")  # as fresh as product-2w, which has served nothing yet
    for _ in range(plan.rounds):
        for name in rounds:
            r = anyio.run(
                lambda: throughput(
                    this.targets[name], SELECT_1, clients=plan.throughput_clients, calls=plan.throughput_calls
                )
            )
            rounds[name].append(r)
            this.log(
                f"  {name:<12} {r['calls_per_s']:8.1f}/s  server cpu {r['server_cpu_ms_per_call']:.3f} ms/call  "
                f"client cpu {r['client_cpu_ms_per_call']:.3f} ms/call  other jobs {r['other_jobs_cores']:.2f} cores  "
                f"errors {r['errors']}"
            )
    this.extra["throughput"] = {name: rs for name, rs in rounds.items()}


def _streams(this: Run) -> None:
    this.log(f"{this.plan.streams} SSE streams on one worker")
    this.extra["sse_streams"] = [
        anyio.run(lambda t=this.targets[name]: sse_streams(t, streams=this.plan.streams))
        for name in ("bare", "product")
    ]
    for s in this.extra["sse_streams"]:
        this.log(
            f"  {s['server']:<12} RSS {s['rss_before_mb']} -> {s['rss_mb']} MB ({s['kb_per_stream']} kB/stream), "
            f"calls ok {s['calls_ok']}/{len(s['probed_streams'])} in {s['call_ms']} ms"
        )


def revocation_check(server: Server) -> dict[str, Any]:
    """A call succeeds, the token is revoked from another process, the very next call is refused."""
    token = server.live.token(username="bench-revoked")
    target = Target("product", server.live.base_url, server.live.process.pid, token)
    first = anyio.run(lambda: measure(target, "mcp-2026", SELECT_1, clients=1, calls=1, warmup=1))
    server.live.python(
        "from oauth2_provider.models import AccessToken\n"
        "[t.revoke() for t in AccessToken.objects.filter(user__username='bench-revoked')]"
    )
    after = httpx2.post(
        f"{server.live.base_url}/mcp",
        headers={**target.headers, "Accept": "application/json, text/event-stream", "Content-Type": "application/json"},
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "execute_sql", "arguments": {"query": "SELECT 1"}},
        },
    )
    return {
        "before_revoke_ok": first.errors == 0,
        "status_after_revoke": after.status_code,
        "immediate": first.errors == 0 and after.status_code == 401,
    }
