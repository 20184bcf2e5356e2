"""The run as a table, ratios against the bare SDK server, the targets of issue 6, and a JSON file."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
_COLUMNS = (
    "server",
    "scenario",
    "transport",
    "clients",
    "errors",
    "p50_ms",
    "p95_ms",
    "calls_per_s",
    "cpu_ms_per_call",
    "peak_rss_mb",
    "growth_mb",
)


def ratios(
    measurements: list[dict[str, Any]], *, floor: tuple[str, ...] = ("bare", "bare-10k")
) -> list[dict[str, Any]]:
    """Product over bare for every scenario both servers ran (the same calls, transport and concurrency)."""
    bare = {_key(m): m for m in measurements if m["server"] in floor}
    out = []
    for m in measurements:
        b = bare.get(_key(m))
        if m["server"].startswith("product") and b is not None:
            out.append(
                {
                    "server": m["server"],
                    "scenario": m["scenario"],
                    "transport": m["transport"],
                    "clients": m["clients"],
                    "p50": _ratio(m["p50_ms"], b["p50_ms"]),
                    "p95": _ratio(m["p95_ms"], b["p95_ms"]),
                    "cpu": _ratio(m["cpu_ms_per_call"], b["cpu_ms_per_call"]),
                    "throughput": _ratio(m["calls_per_s"], b["calls_per_s"]),
                    "growth_mb": m["growth_mb"],
                    "bare_growth_mb": b["growth_mb"],
                    "result_bytes": m["result_bytes"],
                }
            )
    return out


def targets(result: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(target, met, the figures) for each target of issue 17."""
    rs = [r for r in result["ratios"] if r["server"] in ("product", "product-10k")]
    select_1 = [r for r in rs if r["scenario"] == "select_1"]
    policy_1 = [r for r in result["ratios"] if r["server"] == "product-policy" and r["scenario"] == "select_1"]
    frozen = result.get("ratios_frozen_floor", [])
    single_10k = [r for r in rs if r["scenario"] == "rows_10k" and r["clients"] == 1]
    out = [
        (
            "SELECT 1: server CPU per call <= 1.15x bare",
            all(r["cpu"] <= 1.15 for r in select_1),
            _span(select_1, "cpu"),
        ),
        (
            "SELECT 1 under a data policy: CPU <= 1.3x bare",
            bool(policy_1) and all(r["cpu"] <= 1.3 for r in policy_1),
            _span(policy_1, "cpu"),
        ),
        (
            "10,000 rows: CPU <= 1.0x bare with the same gc.freeze",
            bool(frozen) and all(r["cpu"] <= 1.0 for r in frozen),
            _span(frozen, "cpu"),
        ),
        (
            "10,000 rows: peak RSS growth <= 4x the result (1 client)",
            all(r["growth_mb"] * 2**20 <= 4 * r["result_bytes"] for r in single_10k),
            ", ".join(
                f"{r['transport']} {r['growth_mb'] * 2**20 / r['result_bytes']:.1f}x "
                f"(bare {r['bare_growth_mb'] * 2**20 / r['result_bytes']:.1f}x)"
                for r in single_10k
            ),
        ),
    ]
    if "policy" in result:
        seen, new = result["policy"]["seen_before"], result["policy"]["new"]
        out.append(
            (
                "three-table join under a policy: <= 1 ms seen before, <= 5 ms new (CPU, in-process)",
                seen["cpu_ms_per_call"] <= 1 and new["cpu_ms_per_call"] <= 5,
                f"seen {seen['cpu_ms_per_call']:.3f} ms (p50 wall {seen['p50_ms']:.3f}), "
                f"new {new['cpu_ms_per_call']:.2f} ms (p50 wall {new['p50_ms']:.2f})",
            )
        )
    if "throughput" in result:
        one = sorted(r["calls_per_s"] for r in result["throughput"]["product"])
        two = sorted(r["calls_per_s"] for r in result["throughput"]["product-2w"])
        ratio = two[len(two) // 2] / one[len(one) // 2] if one and one[len(one) // 2] else 0
        clients = sorted(r["client_cpu_ms_per_call"] for r in result["throughput"]["product-2w"])
        out.append(
            (
                "uvicorn --workers 2 >= 1.6x one worker (SELECT 1, 10 clients)",
                ratio >= 1.6,
                f"{ratio:.2f}x ({two[len(two) // 2]:.0f}/s against {one[len(one) // 2]:.0f}/s; "
                f"client CPU {clients[len(clients) // 2]:.3f} ms/call)",
            )
        )
    if "startup" in result:
        worst = {label: max(v["cpu_s"]) for label, v in result["startup"].items() if v["cpu_s"]}
        out.append(
            (
                "startup: server and manage.py commands within 2 s of CPU",
                all(v <= 2 for v in worst.values()),
                ", ".join(f"{label} {v:.2f} s" for label, v in worst.items()),
            )
        )
    for s in result.get("sse_streams", []):
        if s["server"] == "product":
            out.append(
                (
                    f"{s['streams']} SSE streams: RSS < 250 MB and a call answers",
                    s["rss_mb"] < 250 and s["calls_ok"] == len(s["probed_streams"]),
                    f"{s['rss_mb']} MB, {s['calls_ok']}/{len(s['probed_streams'])} calls ok",
                )
            )
    if "revocation" in result:
        out.append(
            (
                "revocation refuses the very next call",
                result["revocation"]["immediate"],
                f"HTTP {result['revocation']['status_after_revoke']} after revoke",
            )
        )
    return out


def render(result: dict[str, Any]) -> str:
    lines = [" ".join(f"{c:>{_width(c)}}" for c in _COLUMNS)]
    for m in result["measurements"]:
        lines.append(" ".join(f"{m[c]:>{_width(c)}}" for c in _COLUMNS))
    lines += ["", "product / bare (same calls, transport, clients): p50, p95, CPU per call, throughput"]
    for r in result["ratios"]:
        lines.append(
            f"  {r['server']:<16} {r['scenario']:<10} {r['transport']:<10} c={r['clients']:<3} p50 {r['p50']:5.2f}x  "
            f"p95 {r['p95']:5.2f}x  cpu {r['cpu']:5.2f}x  throughput {r['throughput']:5.2f}x"
        )
    if result.get("ratios_frozen_floor"):
        lines += ["", "product / bare with the product's startup gc.freeze (attribution, not a target)"]
        for r in result["ratios_frozen_floor"]:
            lines.append(
                f"  {r['server']:<16} {r['scenario']:<10} {r['transport']:<10} c={r['clients']:<3} "
                f"p50 {r['p50']:5.2f}x  cpu {r['cpu']:5.2f}x"
            )
    lines += ["", "raw query in-process (sqlite3 + json.dumps)"]
    for r in result.get("raw", []):
        lines.append(
            f"  {r['sql']:<40} p50 {r['p50_ms']:.3f} ms  cpu {r['cpu_ms_per_call']:.3f} ms  {r['json_bytes']} bytes"
        )
    lines += ["", "targets"]
    for name, met, figures in result["targets"]:
        lines.append(f"  [{'met ' if met else 'MISS'}] {name}: {figures}")
    return "\n".join(lines)


def finish(result: dict[str, Any], *, directory: Path = RESULTS) -> Path:
    """Add ratios, targets and the machine to the result, and write it under `directory`."""
    result["ratios"] = ratios(result["measurements"])
    result["ratios_frozen_floor"] = [r for r in ratios(result["measurements"], floor=("bare-10k-frozen",))
                                     if r["server"] == "product-10k"]
    result["targets"] = targets(result)
    result["machine"] = {"python": platform.python_version(), "platform": platform.platform(),
                         "cpus": len(os.sched_getaffinity(0)), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    return path


def _key(m: dict[str, Any]) -> tuple:
    return m["scenario"], m["transport"], m["clients"]


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("inf")


def _span(rs: list[dict[str, Any]], key: str) -> str:
    return ", ".join(f"{r['transport']}/c{r['clients']} {r[key]:.2f}x" for r in rs)


def _width(column: str) -> int:
    return {"server": 12, "scenario": 16, "transport": 10, "clients": 7, "errors": 6}.get(column, max(len(column), 8))
