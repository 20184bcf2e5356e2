"""Data policies on free-form SQL: a group sees three tables, one column masked, one hidden, rows filtered
by the user's country; another group sees everything. Real users, real groups, every target."""

from __future__ import annotations

import os
import re

import pytest
from django.contrib.auth.models import Group, User
from django.db import connections

from sqltools.errors import QueryFailed, QueryRefused
from sqltools.governance import access_for
from sqltools.models import DataRule, RowFilter, UserAttribute
from sqltools.query import query_run
from tests.targets import target_params

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def analyst():
    """In 'analysts': customers (email masked, notes hidden, only their country's rows), orders, order_lines."""
    group = Group.objects.create(name="analysts")
    for pattern, effect, mask in [("*.customers", "allow", ""), ("*.customers.email", "mask", "email"),
                                  ("*.customers.notes", "hide", ""), ("*.orders", "allow", ""),
                                  ("*.order_lines", "allow", "")]:
        DataRule.objects.create(group=group, pattern=pattern, effect=effect, mask=mask)
    RowFilter.objects.create(group=group, table="*.customers", predicate="country = :user.country")
    user = User.objects.create_user("ana", email="ana@example.com")
    user.groups.add(group)
    UserAttribute.objects.create(user=user, name="country", value="Germany")
    return user


@pytest.fixture
def admin_group():
    group = Group.objects.create(name="everything")
    DataRule.objects.create(group=group, pattern="*.*", effect="allow")
    return group


def _run(alias: str, user: User, sql: str):
    return query_run(sql=sql, alias=alias, access=access_for(user=user, client="test"))


def _count(alias: str, sql: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_select_star_shows_visible_columns_masked_and_filtered(target_alias, analyst):
    result = _run(target_alias, analyst, "SELECT * FROM customers ORDER BY customer_id")
    assert "notes" not in result.columns and "email" in result.columns
    emails = [row[result.columns.index("email")] for row in result.rows]
    assert emails and all(e.startswith("b***@example.com") for e in emails)
    assert {row[result.columns.index("country")] for row in result.rows} == {"Germany"}


def test_a_large_result_is_masked_before_it_is_written(target_alias, analyst, sqltools_config):
    sqltools_config(MAX_ROWS=5000, MAX_RESULT_CHARS=10_000_000)
    sql = "SELECT o.order_id, c.email FROM orders o JOIN customers c ON c.customer_id = o.customer_id ORDER BY 1"
    access = access_for(user=analyst, client="test")
    written = query_run(sql=sql, alias=target_alias, access=access, encode_over=2_000)
    assert written.encoded is not None and written.row_count > 200
    assert "buyer" not in written.encoded.json() and "buyer" not in "".join(written.encoded.text_parts)
    assert written.rows_restore() == query_run(sql=sql, alias=target_alias, access=access).rows


def test_aggregates_see_only_the_filtered_rows(target_alias, analyst):
    expected = _count(target_alias, "SELECT COUNT(*) FROM customers WHERE country = 'Germany'")
    assert _run(target_alias, analyst, "SELECT COUNT(*) AS n FROM customers").rows == [[expected]]
    joined = _run(
        target_alias, analyst, "SELECT COUNT(*) AS n FROM orders o JOIN customers c ON c.customer_id = o.customer_id"
    )
    assert joined.rows[0][0] == _count(
        target_alias,
        "SELECT COUNT(*) FROM orders o JOIN customers c ON c.customer_id = o.customer_id WHERE c.country = 'Germany'",
    )


def test_a_masked_column_passes_through_ctes_and_derived_tables_masked(target_alias, analyst):
    result = _run(
        target_alias,
        analyst,
        "WITH c AS (SELECT customer_id, email AS e FROM customers) SELECT x.e FROM (SELECT e FROM c) AS x",
    )
    assert result.rows and all(row[0].startswith("b***@") for row in result.rows)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT customer_id FROM customers WHERE email LIKE 'buyer1%'",
        "SELECT customer_id FROM customers ORDER BY email",
        "SELECT email, COUNT(*) AS n FROM customers GROUP BY email",
        "SELECT COUNT(email) AS n FROM customers",
        "SELECT UPPER(email) AS e FROM customers",
        "SELECT CASE WHEN email LIKE 'b%' THEN 1 ELSE 0 END AS probe FROM customers",
        "SELECT CAST(email AS CHAR(120)) AS e FROM customers",
        "SELECT o.order_id FROM orders o JOIN customers c ON c.email = 'buyer1@example.com'",
        "SELECT order_id FROM orders WHERE customer_id IN (SELECT customer_id FROM customers WHERE email = 'x')",
        "SELECT order_id FROM orders WHERE customer_id IN (SELECT email FROM customers)",
        "SELECT email FROM customers UNION SELECT 'x'",
        "SELECT ROW_NUMBER() OVER (ORDER BY email) AS r FROM customers",
        "SELECT (SELECT MAX(email) FROM customers) AS e",
        "WITH c AS (SELECT email FROM customers) SELECT COUNT(*) AS n FROM c WHERE email > 'a'",
        "SELECT email FROM customers ORDER BY email",
        "SELECT email FROM customers ORDER BY 1",
        "SELECT email AS e FROM customers ORDER BY e DESC",
        "SELECT customer_id, email FROM customers ORDER BY 2",
    ],
)
def test_a_masked_column_cannot_be_used_to_probe_its_values(target_alias, analyst, sql):
    with pytest.raises(QueryRefused, match="masked"):
        _run(target_alias, analyst, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT notes FROM customers",
        "SELECT customer_id FROM customers WHERE notes IS NOT NULL",
        "SELECT c.notes FROM orders o JOIN customers c ON c.customer_id = o.customer_id",
        "SELECT * FROM products",
        "SELECT * FROM employees",
        "SELECT * FROM sales_by_customer",
        "SELECT COUNT(*) FROM products",
        "SELECT * FROM information_schema.columns",
    ],
)
def test_hidden_tables_and_columns_do_not_exist_for_the_caller(target_alias, analyst, sql):
    with pytest.raises(QueryRefused, match="not available|is available to you|not exist|Catalog views"):
        _run(target_alias, analyst, sql)


@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT c FROM customers c",
        "SELECT row_to_json(c) AS j FROM customers c",
        "SELECT to_jsonb(c.*) AS j FROM customers c",
        "SELECT (c).email FROM customers c",
        "SELECT json_agg(c) AS j FROM customers c",
        "SELECT customers FROM customers",
        "SELECT (c).* FROM customers c",
        "SELECT CAST(c AS TEXT) AS t FROM customers c",
        "SELECT format('%s', c) AS t FROM customers c",
        "SELECT ARRAY[c] AS a FROM customers c",
        "SELECT COALESCE(c, c) AS x FROM customers c",
        "SELECT o, c FROM orders o JOIN customers c USING (customer_id)",
        "SELECT customer_id FROM customers c WHERE (c).credit_limit > 4900",
        "SELECT row_to_json(t) AS j FROM (SELECT email, credit_limit FROM customers) t",
        "WITH t AS (SELECT * FROM customers) SELECT t FROM t",
    ],
)
def test_whole_row_references_cannot_carry_hidden_or_masked_columns(target_alias, analyst, sql):
    with pytest.raises(QueryRefused, match="Whole-row|not available|does not exist|masked"):
        _run(target_alias, analyst, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT customer_id, email AS e FROM customers ORDER BY CASE WHEN e = 'buyer16@example.com' THEN 0 ELSE 1 END",
        "SELECT customer_id, credit_limit AS cl FROM customers ORDER BY abs(cl - 2858.02)",
        "SELECT customer_id FROM (SELECT customer_id, credit_limit FROM customers ORDER BY 2) x",
        "WITH x AS (SELECT credit_limit a FROM customers) SELECT a FROM x ORDER BY 1",
        "WITH x AS (SELECT customer_id id, credit_limit a FROM customers) "
        "SELECT id, a FROM x ORDER BY abs(a - 2858.02)",
        "SELECT customer_id, credit_limit AS country FROM customers ORDER BY country",
        "SELECT customer_id, credit_limit FROM customers ORDER BY (2)",
        "SELECT DISTINCT credit_limit, customer_id FROM customers",
        "SELECT COUNT(*) FROM (SELECT DISTINCT credit_limit FROM customers WHERE customer_id IN (20, 21)) s",
        "SELECT DISTINCT email FROM customers",
    ],
)
def test_sorting_by_a_masked_alias_or_position_is_refused(target_alias, analyst, sql):
    DataRule.objects.create(
        group=Group.objects.get(name="analysts"), pattern="*.customers.credit_limit", effect="mask", mask="hash"
    )
    with pytest.raises(QueryRefused, match="masked"):
        _run(target_alias, analyst, sql)


@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT to_regclass('products') AS r",
        "SELECT 'employees'::regclass::oid AS o",
        "SELECT * FROM json_populate_record(NULL::products, '{}')",
        "SELECT pg_get_viewdef('sales_by_customer') AS v",
        "SELECT pg_relation_size('products') AS n",
        "SELECT has_column_privilege('customers', 'notes', 'select') AS p",
        "SELECT pg_typeof(NULL::products) AS t",
        "SELECT * FROM jsonb_populate_record(NULL::customers, '{}')",
    ],
)
def test_catalog_probes_cannot_tell_what_is_hidden(target_alias, analyst, sql):
    with pytest.raises(QueryRefused, match="catalog|not available|built-in types"):
        _run(target_alias, analyst, sql)


@pytest.mark.parametrize("alias", ["where", "C", "limit"])
def test_quoted_aliases_survive_the_rewrite(target_alias, analyst, alias):
    alias = f"`{alias}`" if target_alias == "target_mysql" else f'"{alias}"'
    result = _run(
        target_alias, analyst, f"SELECT {alias}.customer_id FROM customers AS {alias} WHERE {alias}.customer_id < 50"
    )
    assert result.rows and all(row[0] < 50 for row in result.rows)


@pytest.mark.parametrize("target_alias", target_params("target_mysql"), indirect=True)
def test_database_errors_do_not_quote_the_rewritten_statement(target_alias, analyst):
    with pytest.raises(QueryFailed) as failed:
        _run(target_alias, analyst, 'SELECT "C".name FROM customers "C"')
    assert "country" not in failed.value.message and "SELECT" not in failed.value.message


def test_filtered_tables_list_no_row_estimate(target_alias, analyst):
    from sqltools.catalog import tables_list
    from sqltools.governance import access_scope

    with access_scope(access_for(user=analyst)):
        estimates = {t.name: t.row_estimate for t in tables_list(alias=target_alias)}
    assert estimates["customers"] is None


def test_a_second_group_adds_its_rights(target_alias, analyst, admin_group):
    analyst.groups.add(admin_group)
    result = _run(target_alias, analyst, "SELECT email, notes FROM customers WHERE customer_id = 1")
    assert result.rows[0][0] == "buyer1@example.com"
    assert _run(target_alias, analyst, "SELECT COUNT(*) AS n FROM customers").rows == [[1000]]


def test_hash_masks_are_stable_so_counts_and_matching_still_work(target_alias, analyst):
    DataRule.objects.filter(pattern="*.customers.email").update(mask="hash")
    first = _run(target_alias, analyst, "SELECT email FROM customers ORDER BY customer_id")
    again = _run(target_alias, analyst, "SELECT email FROM customers ORDER BY customer_id")
    assert first.rows == again.rows and len({r[0] for r in first.rows}) == len(first.rows)
    assert all(r[0].startswith("h:") and "buyer" not in r[0] for r in first.rows)


def test_users_without_rules_follow_the_default(target_alias, sqltools_config):
    user = User.objects.create_user("nobody")
    assert _run(target_alias, user, "SELECT COUNT(*) AS n FROM customers").rows == [[1000]]
    sqltools_config(DATA_POLICY_DEFAULT="deny_all")
    with pytest.raises(QueryRefused, match="no access"):
        _run(target_alias, user, "SELECT 1 AS one")


def test_superusers_are_bound_unless_exempted(target_alias, analyst, sqltools_config):
    analyst.is_superuser = True
    analyst.save()
    with pytest.raises(QueryRefused):
        _run(target_alias, analyst, "SELECT notes FROM customers")
    sqltools_config(DATA_POLICY_SUPERUSER_EXEMPT=True)
    assert _run(target_alias, analyst, "SELECT COUNT(notes) AS n FROM customers").columns == ["n"]


def _restore_order(alias: str, table: str) -> None:
    """PostgreSQL keeps an updated row at the end of the heap; other tests sample tables in their stored order."""
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"CLUSTER {table} USING {table}_pkey")


def _write(alias: str, user: User, sql: str):
    return query_run(sql=sql, alias=alias, access=access_for(user=user, client="test"), allow_write=True)


def test_writes_need_a_write_rule_under_a_data_policy(target_alias, analyst, sqltools_config):
    sqltools_config(READ_ONLY=False)
    with pytest.raises(QueryRefused, match="does not let you change orders"):
        _write(target_alias, analyst, "UPDATE orders SET status = 'x' WHERE order_id = 1")


@pytest.fixture
def writer(analyst):
    """The analyst's group may also change orders and customers (still masked email, hidden notes, filtered rows)."""
    group = Group.objects.get(name="analysts")
    DataRule.objects.filter(group=group, pattern__in=["*.orders", "*.customers"]).update(effect="write")
    return analyst


def test_a_write_rule_lets_the_group_change_what_it_sees(target_alias, writer, sqltools_config):
    sqltools_config(READ_ONLY=False)
    before = _count(target_alias, "SELECT COUNT(*) FROM orders WHERE status = 'probe'")
    with connections[target_alias].cursor() as cursor:
        cursor.execute("SELECT status FROM orders WHERE order_id = 1")
        original = cursor.fetchone()[0]
    try:
        assert _write(target_alias, writer, "UPDATE orders SET status = 'probe' WHERE order_id = 1").rows_affected == 1
        assert _count(target_alias, "SELECT COUNT(*) FROM orders WHERE status = 'probe'") == before + 1
    finally:
        with connections[target_alias].cursor() as cursor:
            cursor.execute("UPDATE orders SET status = %s WHERE order_id = 1", [original])
        _restore_order(target_alias, "orders")


@pytest.mark.parametrize("target_alias", target_params("target_pg", "target"), indirect=True)
@pytest.mark.parametrize("sql", ["UPDATE customers SET city = 'x' WHERE customer_id = 1 RETURNING *",
                                 "DELETE FROM orders WHERE order_id = -1 RETURNING customer_id"])
def test_writes_under_a_policy_return_no_rows(target_alias, writer, sqltools_config, sql):
    sqltools_config(READ_ONLY=False)
    with pytest.raises(QueryRefused, match="returns no rows"):
        _write(target_alias, writer, sql)


def test_a_filtered_write_changes_only_the_callers_rows(target_alias, writer, sqltools_config):
    sqltools_config(READ_ONLY=False)
    germany = _count(target_alias, "SELECT COUNT(*) FROM customers WHERE country = 'Germany' AND customer_id <= 100")
    original = {}
    with connections[target_alias].cursor() as cursor:
        cursor.execute("SELECT customer_id, city FROM customers WHERE customer_id <= 100")
        original = dict(cursor.fetchall())
    try:
        result = _write(target_alias, writer, "UPDATE customers SET city = 'Probe' WHERE customer_id <= 100")
        assert result.rows_affected == germany
        assert _count(target_alias, "SELECT COUNT(*) FROM customers WHERE city = 'Probe' AND country <> 'Germany'") == 0
    finally:
        with connections[target_alias].cursor() as cursor:
            for customer_id, city in original.items():
                cursor.execute("UPDATE customers SET city = %s WHERE customer_id = %s", [city, customer_id])
        _restore_order(target_alias, "customers")


@pytest.mark.parametrize(
    "sql, reason",
    [
        ("UPDATE customers SET email = 'x' WHERE customer_id = 1", "masked"),
        ("UPDATE customers SET city = 'x' WHERE email = 'buyer1@example.com'", "masked"),
        ("UPDATE customers SET notes = 'x' WHERE customer_id = 1", "not available"),
        ("INSERT INTO customers (customer_id, name) VALUES (99999, 'x')", "filtered"),
        ("UPDATE orders SET status = 'x' WHERE customer_id IN (SELECT customer_id FROM customers)", "one table"),
        ("DELETE FROM order_lines WHERE order_id = 1", "does not let you change"),
        ("CREATE TABLE readonly_probe (a INT)", "schema"),
        ("UPDATE customers SET country = 'Japan' WHERE customer_id = 1", "filtered by a column"),
        ("INSERT INTO orders VALUES (99999, 1, 1, '2024-01-01', 'x', NULL)", "names the columns"),
    ],
)
def test_a_write_rule_does_not_open_masked_hidden_or_other_data(target_alias, writer, sqltools_config, sql, reason):
    sqltools_config(READ_ONLY=False, ALLOW_DDL=True)
    before = _count(target_alias, "SELECT COUNT(*) FROM customers WHERE city = 'x' OR email = 'x' OR notes = 'x'")
    with pytest.raises(QueryRefused, match=reason):
        _write(target_alias, writer, sql)
    assert (
        _count(target_alias, "SELECT COUNT(*) FROM customers WHERE city = 'x' OR email = 'x' OR notes = 'x'") == before
    )


def test_a_missing_user_attribute_refuses_rather_than_shows_everything(target_alias, analyst):
    UserAttribute.objects.filter(user=analyst).delete()
    with pytest.raises(QueryRefused, match="'country' attribute"):
        _run(target_alias, analyst, "SELECT COUNT(*) AS n FROM customers")


def test_attribute_values_cannot_inject_sql(target_alias, analyst):
    UserAttribute.objects.filter(user=analyst).update(value="x' OR '1'='1")
    assert _run(target_alias, analyst, "SELECT COUNT(*) AS n FROM customers").rows == [[0]]


@pytest.mark.parametrize("target_alias", target_params("target_pg", "target"), indirect=True)
def test_names_are_matched_the_way_the_server_folds_them(target_alias, analyst):
    result = _run(target_alias, analyst, "SELECT Email FROM Customers WHERE Customer_Id < 100")
    assert result.rows and all(row[0].startswith("b***@") for row in result.rows)


def test_the_admin_previews_what_a_group_sees_from_the_live_catalog(analyst, admin_client):
    from sqltools.preview import group_preview

    group = Group.objects.get(name="analysts")
    preview = dict(group_preview(group=group))
    assert set(preview) == {"main.customers", "main.orders", "main.order_lines"}
    customers = dict(preview["main.customers"])
    assert customers["email"] is True and customers["name"] is False and "notes" not in customers
    page = admin_client.get(f"/admin/auth/group/{group.pk}/change/")
    block = re.search(r"<pre class='sql-block'>(.*?)</pre>", page.content.decode(), re.S)
    assert page.status_code == 200 and block and "email (masked)" in block[1] and "notes" not in block[1]


@pytest.mark.parametrize(
    "pattern, effect, mask, problem",
    [
        ("a.b.c.d", "allow", "", "pattern"),
        ("sales..x", "allow", "", "pattern"),
        ("*.customers.email", "mask", "", "mask"),
    ],
)
def test_rules_are_validated_when_saved(pattern, effect, mask, problem):
    from django.core.exceptions import ValidationError

    rule = DataRule(group=Group.objects.create(name="g"), pattern=pattern, effect=effect, mask=mask)
    with pytest.raises(ValidationError) as invalid:
        rule.full_clean()
    assert problem in invalid.value.message_dict


@pytest.mark.parametrize("predicate, valid", [
    ("country = :user.country", True), ("country IN ('a', 'b') AND credit_limit > 10", True),
    ("pg_sleep(10) IS NULL", False), ("1 = 1; DELETE FROM customers", False), ("country = (", False),
])
def test_row_filters_must_be_conditions_the_guard_admits(predicate, valid):
    from django.core.exceptions import ValidationError

    row_filter = RowFilter(group=Group.objects.create(name="g"), table="*.customers", predicate=predicate)
    if valid:
        row_filter.full_clean()
    else:
        with pytest.raises(ValidationError, match="guard"):
            row_filter.full_clean()


# --- the same policy on every tool: listing, describing, sampling, search and fetch -----------------------------


def test_metadata_shows_only_what_the_caller_may_see(target_alias, analyst):
    from sqltools.catalog import table_describe, tables_list
    from sqltools.errors import TableNotFound
    from sqltools.governance import access_scope

    with access_scope(access_for(user=analyst)):
        assert {t.name for t in tables_list(alias=target_alias)} == {"customers", "orders", "order_lines"}
        described = table_describe(table="customers", alias=target_alias)
        columns = {c["name"]: c for c in described["columns"]}
        assert "notes" not in columns and columns["email"]["masked"] == "email" and columns["name"]["masked"] is None
        assert all(fk["referenced_table"].endswith(("customers", "orders")) for fk in described["foreign_keys"])
        orders = table_describe(table="orders", alias=target_alias)
        assert not any("employee" in fk["referenced_table"] for fk in orders["foreign_keys"])  # employees is hidden
        with pytest.raises(TableNotFound) as missing:
            table_describe(table="products", alias=target_alias)
        assert str(missing.value) == "No table or view named 'products'. Use list_tables to see what exists."
        with pytest.raises(TableNotFound) as close:
            table_describe(table="employee", alias=target_alias)  # no hidden name is suggested
        assert "employees" not in str(close.value)


def test_samples_search_and_fetch_apply_the_policy(target_alias, analyst):
    from sqltools.catalog import table_sample
    from sqltools.governance import access_scope
    from sqltools.search import fetch_run, search_run

    with access_scope(access_for(user=analyst)):
        sample = table_sample(table="customers", limit=5, alias=target_alias)
        assert "notes" not in sample.columns
        assert all(row[sample.columns.index("email")].startswith("b***@") for row in sample.rows)
        assert {row[sample.columns.index("country")] for row in sample.rows} == {"Germany"}
        hits = search_run(query="sample customers limit 3", alias=target_alias)
        record = fetch_run(id=hits[1].id, alias=target_alias)
        assert "buyer" not in record.text.replace("b***@", "") and "notes" not in record.metadata
        assert all("products" not in hit.id for hit in search_run(query="list tables", alias=target_alias))
        assert not search_run(query="category", alias=target_alias)  # a column of the hidden products table
    # Another caller never gets the analyst's records from the cache, nor the analyst another's.
    unrestricted = fetch_run(id=hits[1].id, alias=target_alias)
    assert "buyer" in unrestricted.text


def test_a_refusal_by_policy_records_the_rule_in_the_audit_log(target_alias, analyst, sqltools_config):
    from sqltools.audit import Actor, audit_call
    from sqltools.models import AuditEntry

    actor = Actor(user_id=analyst.pk, username="ana")
    with pytest.raises(QueryRefused), audit_call(tool="execute_sql", actor=actor, sql="probe"):
        _run(target_alias, analyst, "SELECT customer_id FROM customers ORDER BY email")
    assert AuditEntry.objects.get(sql="probe").rule == "mask *.customers.email"


# --- the user's identity inside the database ---------------------------------------------------------------------


@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
def test_postgresql_row_level_security_sees_the_end_user_and_nothing_carries_over(target_alias):
    """A DBA's own policy reads current_setting('mcp.user'): the server sets it per call, transaction-local."""
    from sqltools.governance import Access

    connection = connections[target_alias]
    role = f"rls_probe_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE rls_probe (owner text, secret text)")
        cursor.execute("INSERT INTO rls_probe VALUES ('alice', 'a1'), ('alice', 'a2'), ('bob', 'b1')")
        cursor.execute("ALTER TABLE rls_probe ENABLE ROW LEVEL SECURITY")
        cursor.execute("CREATE POLICY rls_probe_owner ON rls_probe USING (owner = current_setting('mcp.user', true))")
        cursor.execute(f"CREATE ROLE {role} LOGIN")  # not a superuser: row-level security applies to it
        cursor.execute(f"GRANT SELECT ON rls_probe TO {role}")
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["USER"] = role
    try:
        def rows(username: str) -> list:
            access = Access(user_id=1, username=username, client="test")
            return sorted(query_run(sql="SELECT secret FROM rls_probe", alias=target_alias, access=access).rows)

        assert rows("alice") == [["a1"], ["a2"]]
        assert rows("bob") == [["b1"]]  # the same pooled connection, the next call
        assert rows("") == []  # an unknown user sees nothing; alice's setting did not stay behind
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('mcp.user', true)")
            assert cursor.fetchone()[0] in (None, "")
    finally:
        connection.close()
        connection.settings_dict["USER"] = original["USER"]
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE rls_probe")
            cursor.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("target_alias", target_params("target_mysql"), indirect=True)
def test_mariadb_statements_carry_the_end_user_in_session_variables_that_do_not_carry_over(target_alias):
    from sqltools.governance import Access

    def variables() -> tuple:
        with connections[target_alias].cursor() as cursor:
            cursor.execute("SELECT @mcp_user, @mcp_client")
            return cursor.fetchone()

    query_run(sql="SELECT 1 AS one", alias=target_alias, access=Access(user_id=1, username="alice", client="Claude"))
    assert variables() == ("alice", "Claude")
    query_run(sql="SELECT 1 AS one", alias=target_alias)  # a call without a user clears them
    assert variables() == (None, None)
