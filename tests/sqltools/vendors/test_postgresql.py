"""PostgreSQL's read path: nothing the owner's code takes during a read outlives it on the pooled connection."""

from __future__ import annotations

import pytest
from django.db import connections

from sqltools.query import query_run
from tests.targets import target_params

_SETUP = [
    "CREATE FUNCTION lock_probe_check(v int) RETURNS bool LANGUAGE plpgsql AS "
    "$$BEGIN PERFORM pg_advisory_lock(424242); RETURN true; END$$",
    "CREATE DOMAIN lock_probe_dom AS int CHECK (lock_probe_check(VALUE))",
    "CREATE TABLE lock_probe (a lock_probe_dom[])",  # an array of the domain: coalesce keeps its type
    "INSERT INTO lock_probe VALUES (NULL)",
    "SELECT pg_advisory_unlock_all()",
]
_TEARDOWN = ["DROP TABLE IF EXISTS lock_probe", "DROP DOMAIN IF EXISTS lock_probe_dom",
             "DROP FUNCTION IF EXISTS lock_probe_check(int)"]


def _advisory_locks(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
def test_an_advisory_lock_taken_by_a_domain_check_is_let_go_after_the_read(target_alias):
    """PostgreSQL converts the literal to the column's domain and runs its CHECK (docs/read_only.md, section 4);
    a session-level lock it takes must not stay on the connection the next call reuses (attack round 2)."""
    with connections[target_alias].cursor() as cursor:
        for sql in _SETUP:
            cursor.execute(sql)
    try:
        with connections[target_alias].cursor() as cursor:  # the control: the read does take the lock
            cursor.execute("SELECT coalesce(a, '{1}') AS a FROM lock_probe")
            assert _advisory_locks(target_alias) == 1
            cursor.execute("SELECT pg_advisory_unlock_all()")
        result = query_run(sql="SELECT coalesce(a, '{1}') AS a FROM lock_probe", alias=target_alias)
        assert result.row_count == 1
        assert _advisory_locks(target_alias) == 0
    finally:
        with connections[target_alias].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
            for sql in _TEARDOWN:
                cursor.execute(sql)
