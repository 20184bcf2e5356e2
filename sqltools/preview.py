"""What one group's data rules show of the live catalog, for the admin's group page."""

from __future__ import annotations

from typing import Any

from sqltools.catalog import tables_list
from sqltools.governance import MASK, Access, group_policy
from sqltools.policy import catalog_cursor
from sqltools.query import target


def group_preview(*, group: Any, alias: str | None = None) -> list[tuple[str, list[tuple[str, bool]]]]:
    """[(schema.table, [(column, masked)])] for every table the group's rules let its members see."""
    access = Access(groups=(group_policy(group),), restricted=True)
    connection, vendor = target(alias)
    preview = []
    with catalog_cursor(connection) as cursor:
        for ref in tables_list(alias=alias):
            if not access.table_visible(ref.schema, ref.name):
                continue
            columns = []
            for row in vendor.columns(cursor, ref.schema, ref.name):
                rule = access.column_rule(ref.schema, ref.name, row[0])
                if rule is not None:
                    columns.append((row[0], rule.effect == MASK))
            if columns:
                preview.append((ref.qualified_name, columns))
    return preview
