"""Result shaping (mcp_bridge/render.py): explain_sql's result within MAX_RESULT_CHARS, the raw plan cut first
and said."""

from __future__ import annotations

from mcp_bridge.render import explain_fit, response_chars
from mcp_bridge.schemas import ExplainOutput
from sqltools.explain import plan_summary
from sqltools.plans import Plan, PlanNode


def _large_plan(operators: int) -> Plan:
    nodes = [PlanNode("Seq Scan", f"public.t{i}", None, "scan", 1e6, 1e4, "x = 'y'") for i in range(operators)]
    return Plan("postgres", nodes, 1e6, 4.2e4, raw="[" + ", ".join(['{"Node Type": "Seq Scan"}'] * 20_000) + "]")


def test_a_large_raw_plan_is_cut_and_said(sqltools_config):
    sqltools_config(MAX_RESULT_CHARS=20_000)
    result = explain_fit("explain_sql", plan_summary(_large_plan(5)))
    data = result.structured_content
    assert response_chars(result) <= 20_000 and not result.is_error
    assert (
        data["raw_plan_truncated"] and data["raw_plan"] and "raw_plan was cut to fit MAX_RESULT_CHARS" in data["notice"]
    )
    assert len(data["operators"]) == 5 and "raw_plan was cut" in result.content[0].text
    ExplainOutput.model_validate(data)


def test_a_plan_with_many_operators_lists_the_first_and_counts_the_rest(sqltools_config):
    sqltools_config(MAX_RESULT_CHARS=20_000)
    result = explain_fit("explain_sql", plan_summary(_large_plan(400)))
    data = result.structured_content
    assert response_chars(result) <= 20_000
    assert data["operators_left_out"] >= 200 and len(data["operators"]) + data["operators_left_out"] == 400
    assert "more operators are in raw_plan" in result.content[0].text
