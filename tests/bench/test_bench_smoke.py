"""`python -m bench --quick` still runs end to end: every server, scenario and check, a table and a JSON file.

No timing assertions: this machine's figures say nothing. docs/benchmarks.md has the real run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mcpsite.liveserver import ROOT

pytestmark = pytest.mark.live


def test_quick_benchmark_runs_and_reports(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "product / bare" in done.stdout and "targets" in done.stdout
    [written] = tmp_path.glob("bench-*.json")
    result = json.loads(written.read_text())
    scenarios = {(m["server"], m["scenario"], m["transport"]) for m in result["measurements"]}
    for transport in ("mcp-legacy", "mcp-2026", "sse"):
        assert ("bare", "select_1", transport) in scenarios and ("product", "select_1", transport) in scenarios
        assert ("product-10k", "rows_10k", transport) in scenarios
        assert ("product", "get_table_sample", transport) in scenarios
    assert all(m["errors"] == 0 and m["cpu_ms_per_call"] >= 0 for m in result["measurements"])
    assert result["raw"] and result["ratios"]
    assert [s["calls_ok"] for s in result["sse_streams"]] == [len(s["probed_streams"]) for s in result["sse_streams"]]
    assert result["revocation"]["immediate"] is True
