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
