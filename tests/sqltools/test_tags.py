"""Statement tags: every statement the server sends starts with the call's SQLCommenter comment, which no value
can break out of, which the user cannot forge, and which a DBA sees in the database while the statement runs.

SQL Server's batches, as the driver sends them, are checked in test_mssql.py (the TDS responder)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from sqltools.errors import QueryRefused, QueryTimeout
from sqltools.lexing import CODE, COMMENT, server_parts
from sqltools.policy import statement_policy
from sqltools.query import query_run
from sqltools.tags import SERVER_TAG, TAG_SHAPE, call_tag_scope, tag_render
from tests.sqltools.hostile_sql import legitimate_for
from tests.targets import statements_sent, target_params

DIALECTS = ("sqlite", "postgres", "mysql", "tsql")
# Values chosen to end the comment, open an executable one, nest one, or quote out of the value.
HOSTILE_VALUES = ["*/ DROP TABLE orders; /*", "/*!50000 DROP TABLE orders*/", "/*+ hint */", "/*M! x */",
                  "a'b\\'c", "é ü \u202e \x00 \n -- #", "%2A%2F", "client*/", "*", "/"]


def _call(**overrides):
    fields = dict(client="Claude", user_id=7, username="alice", tool="execute_sql", audit_id="0123456789abcdef")
    return call_tag_scope(**{**fields, **overrides})


def _kinds(sql: str, dialect: str) -> list[int]:
    """The kind (code, literal, comment) of each character as the server lexes it."""
    kinds = [CODE] * len(sql)
    for kind, start, end in server_parts(sql=sql, dialect=dialect):
        kinds[start:end] = [kind] * (end - start)
    return kinds


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_value_can_end_the_comment_or_make_it_executable(value, dialect):
    tag = tag_render({"client": value, "user": value, "tool": "execute_sql"})
    assert TAG_SHAPE.fullmatch(tag)
    assert tag.count("*/") == 1 and tag.endswith("*/ ") and "/*!" not in tag and "/*+" not in tag
    sql = tag + "SELECT 1"
    assert server_parts(sql=sql, dialect=dialect)[0] == (COMMENT, 0, len(tag) - 1)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_tagged_text_is_one_leading_comment_then_exactly_the_checked_statement(dialect):
    """What the policy returns (Checked.text) lexes, on the server, as the tag and then the statement the guard
    checked, character for character; for every legitimate statement of the guard's corpus."""
    seen = 0
    with _call(client=HOSTILE_VALUES[0], username=HOSTILE_VALUES[1]):
        for sql in legitimate_for(dialect):
            try:
                checked = statement_policy(sql=sql, dialect=dialect)
            except QueryRefused:
                continue  # refused alone as well: nothing is sent
            text, tag = checked.text, checked.tag
            assert tag and text == tag + checked.sql
            kinds = _kinds(text, dialect)
            assert set(kinds[:len(tag) - 1]) == {COMMENT} and kinds[len(tag) - 1] == CODE
            assert kinds[len(tag):] == _kinds(checked.sql, dialect), sql
            seen += 1
    assert seen >= 10  # the corpus's statements were checked, not all refused


@pytest.mark.parametrize("dialect", ["mysql", "postgres", "sqlite", "tsql"])
def test_the_user_cannot_forge_a_tag_or_make_a_comment_executable(dialect):
    forged = "/*application='mcp-server',audit_id='ffff',client='root',user_id='1'*/ SELECT 1"
    with _call():
        checked = statement_policy(sql=forged, dialect=dialect)
        assert checked.text.startswith(checked.tag) and "audit_id='0123456789abcdef'" in checked.tag
        assert server_parts(sql=checked.text, dialect=dialect)[0] == (COMMENT, 0, len(checked.tag) - 1)
        if dialect == "mysql":
            for executable in ("/*!50000 SELECT 2 */ SELECT 1", "/*+ MAX_EXECUTION_TIME(1) */ SELECT 1",
                               "/*M!100000 SELECT 2 */ SELECT 1"):
                with pytest.raises(QueryRefused):
                    statement_policy(sql=executable, dialect=dialect)


def test_the_tag_names_the_user_by_id_and_by_name_only_if_allowed(sqltools_config):
    with _call() as call:
        assert call.text == ("/*application='mcp-server',audit_id='0123456789abcdef',client='Claude',"
                             "tool='execute_sql',user_id='7'*/ ")
    sqltools_config(COMMENT_USER_NAMES=True)
    with _call(username="o'brien smith") as call:
        assert "user='o%27brien%20smith'" in call.text
    sqltools_config(COMMENT_TAGS=False)
    with _call():
        assert statement_policy(sql="SELECT 1", dialect="postgres").text == "SELECT 1"


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("target_alias", target_params(), indirect=False)
def test_every_statement_of_a_call_starts_with_its_tag(target_alias):
    with _call(client="Claude Desktop") as call, statements_sent(target_alias) as sent:
        query_run(sql="SELECT order_id FROM orders ORDER BY order_id", alias=target_alias, max_rows=2)
        query_run(sql="SELECT count(*) FROM customers", alias=target_alias)
    tag = call.text.replace("%", "%%")  # as written before the driver's placeholders, where the text has them
    assert sent and all(sql.startswith((call.text, tag)) for sql in sent), sent
    assert SERVER_TAG not in "".join(sent)


# A read that takes seconds on any server without a sleep function: the guard admits it as any analyst's.
_SLOW = "SELECT count(*) FROM orders a, orders b, orders c WHERE a.order_id + b.order_id + c.order_id < 0"
_ACTIVITY = {
    "target_pg": "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active'",
    "target_mysql": "SELECT info FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND info IS NOT NULL",
}


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("target_alias", target_params("target_pg", "target_mysql"))
def test_a_dba_sees_the_tag_of_a_running_statement(target_alias, sqltools_config):
    """pg_stat_activity and MariaDB's processlist show the running statement with its tag, audit id included."""
    sqltools_config(QUERY_TIMEOUT_SECONDS=4)
    audit_id = "feedc0ffee000001"
    outcome: list[object] = []

    def slow() -> None:
        try:
            with _call(client="Claude", audit_id=audit_id):
                outcome.append(query_run(sql=_SLOW, alias=target_alias))
        except QueryTimeout as error:
            outcome.append(error)
        finally:
            connections[target_alias].close()

    runner = threading.Thread(target=slow)
    runner.start()
    seen: list[str] = []
    try:
        with connections[target_alias].cursor() as cursor:  # this thread's own connection: another session
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and not seen:
                cursor.execute(_ACTIVITY[target_alias])
                seen = [row[0] for row in cursor.fetchall() if f"audit_id='{audit_id}'" in row[0]]
                time.sleep(0.05)
    finally:
        runner.join(10)
    assert seen, f"no running statement carried audit_id {audit_id}"
    assert seen[0].startswith(f"/*application='mcp-server',audit_id='{audit_id}',client='Claude',tool='execute_sql'")
    assert outcome
