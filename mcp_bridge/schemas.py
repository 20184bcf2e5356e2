"""The outputSchema of each SQL tool: what its structuredContent holds (clients validate against it).

search and fetch have none: ChatGPT wants their answer as one text item holding JSON, and nothing else.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class QueryOutput(BaseModel):
    """execute_sql and get_table_sample."""

    columns: list[str]
    rows: list[list[Any]] = Field(description="The rows, each a list of values in column order")
    row_count: int = Field(description="Rows in `rows`")
    truncated: bool = Field(description="True when rows exist that are not in `rows`")
    truncated_reason: Literal["max_rows", "max_sample_rows", "max_chars"] | None = Field(
        description="Which cap left rows out: MAX_ROWS, MAX_SAMPLE_ROWS or the response's MAX_RESULT_CHARS")
    notice: str | None = Field(description="Every cap that changed the answer, in words")
    limit_applied: int | None = Field(description="The row cap this call ran under")
    limit_requested: int | None = Field(description="The limit asked for (get_table_sample)")
    elapsed_ms: float
    statement_type: Literal["read", "dml", "ddl"]
    rows_affected: int | None = Field(description="Rows a write changed")


class TableOutput(BaseModel):
    name: str = Field(description="schema.table")
    schema_: str = Field(alias="schema")
    table: str
    kind: Literal["table", "view"]
    row_estimate: int | None


class TablesOutput(BaseModel):
    """list_tables."""

    tables: list[TableOutput]
    row_count: int
    truncated: bool = Field(description="True when tables were left out to fit MAX_RESULT_CHARS")
    notice: str | None


class ColumnOutput(BaseModel):
    name: str
    type: str
    nullable: bool
    default: Any
    max_length: int | None
    precision: int | None
    scale: int | None
    description: str | None
    masked: str | None = Field(default=None, description="How your data policy masks its values, if it does")


class ForeignKeyOutput(BaseModel):
    name: str | None
    table: str
    columns: list[str]
    referenced_table: str
    referenced_columns: list[str]


class IndexOutput(BaseModel):
    name: str
    columns: list[str]
    unique: bool
    primary: bool


class DescribeOutput(BaseModel):
    """describe_table."""

    table: TableOutput
    description: str | None
    columns: list[ColumnOutput]
    primary_key: list[str]
    foreign_keys: list[ForeignKeyOutput]
    referenced_by: list[ForeignKeyOutput]
    indexes: list[IndexOutput]


class PlanOperatorOutput(BaseModel):
    depth: int = Field(description="Depth in the operator tree (0: the top operator)")
    operator: str = Field(description="The database's name for the operator (Seq Scan, Index Seek, SCAN…)")
    relation: str | None = Field(description="The table or view it reads, if any")
    index: str | None = Field(description="The index it uses, if any")
    access: Literal["scan", "seek"] | None = Field(
        description="scan: reads a whole table or index; seek: an index search; null: neither")
    rows: float | None = Field(description="Estimated rows this operator returns (null: not estimated)")
    cost: float | None = Field(description="Estimated cost up to this operator, in the database's units")
    detail: str | None = Field(description="Condition or join type, as the database states it")


class MissingIndexOutput(BaseModel):
    table: str
    impact: float | None = Field(description="SQL Server's estimated improvement, in percent")
    equality: list[str]
    inequality: list[str]
    include: list[str]
    suggestion: str = Field(description="A CREATE INDEX to show the DBA (this server never runs DDL by itself)")


class ExplainOutput(BaseModel):
    """explain_sql: the estimated plan; the statement is never run."""

    dialect: str
    executed: Literal[False] = Field(description="Always false: EXPLAIN only estimates")
    estimated_rows: float | None = Field(description="Rows the statement would return (or change); null: no estimate")
    estimated_cost: float | None = Field(description="The statement's estimated cost, in the database's units")
    scans: list[str] = Field(description="Tables read in full")
    operators: list[PlanOperatorOutput] = Field(description="The operator tree, depth first")
    operators_left_out: int = Field(description="Operators not listed (they are in raw_plan)")
    missing_indexes: list[MissingIndexOutput] = Field(description="SQL Server's missing-index suggestions")
    server_limits: str | None = Field(description="This server's cost guard, if one is set")
    raw_format: Literal["json", "xml"]
    raw_plan: str = Field(description="The plan as the database gave it (SHOWPLAN XML on SQL Server)")
    raw_plan_truncated: bool = Field(description="True when raw_plan was cut to fit MAX_RESULT_CHARS")
    notice: str = Field(description="What the plan suggests doing next, in words")
