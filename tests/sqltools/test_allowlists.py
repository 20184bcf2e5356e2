"""The read-only guard's function allow lists, checked against the real catalogs.

PostgreSQL: every name is a pg_catalog function (or SQL syntax that we run), none is volatile unless
listed below with the reason it is harmless, none is SECURITY DEFINER or withheld from PUBLIC.
MariaDB: every name is in information_schema.SQL_FUNCTIONS or is a keyword the parser treats as a
function. SQLite: every name is in Python's sqlite3 pragma_function_list/pragma_module_list, or needs
a newer SQLite than this one. T-SQL has no server here: sqlglot parses every name as a call. For
every dialect, the known-dangerous names are absent.

The servers are reached directly (no Django databases). In CI a server that is down fails the
test; elsewhere its tests skip with the reason.
"""

from __future__ import annotations

import os
import re
import sqlite3

import pytest
import sqlglot
from sqlglot import exp

from sqltools.allowlists import FUNCTIONS
from tests.services import unavailable

# --- every dialect -------------------------------------------------------------------------------

DANGEROUS = {
    "postgres": """
        pg_read_file pg_read_binary_file pg_ls_dir pg_ls_logdir pg_ls_waldir pg_ls_tmpdir pg_stat_file
        lo_import lo_export lo_get lo_put lo_open lo_create lo_unlink lo_from_bytea
        dblink dblink_exec dblink_connect set_config current_setting nextval setval currval lastval
        pg_sleep pg_sleep_for pg_sleep_until pg_advisory_lock pg_advisory_xact_lock pg_try_advisory_lock
        pg_advisory_lock_shared pg_advisory_unlock_all query_to_xml query_to_xml_and_xmlschema
        query_to_xmlschema cursor_to_xml table_to_xml schema_to_xml database_to_xml ts_stat ts_rewrite
        txid_current txid_current_if_assigned pg_current_xact_id pg_notify pg_cancel_backend
        pg_terminate_backend pg_reload_conf pg_rotate_logfile pg_stat_get_activity pg_stat_reset
        pg_switch_wal pg_backup_start pg_create_restore_point pg_logical_emit_message setseed
        pg_file_write pg_stat_statements_reset pg_import_system_collations pg_log_backend_memory_contexts
        current_user session_user current_role user
    """,
    "mysql": """
        sleep benchmark get_lock release_lock release_all_locks is_free_lock is_used_lock load_file
        last_insert_id master_pos_wait source_pos_wait master_gtid_wait sys_exec sys_eval
        nextval setval lastval wsrep_sync_wait_upto_gtid binlog_gtid_pos password old_password
        user current_user session_user system_user
    """,
    "sqlite": """
        load_extension readfile writefile edit fts3_tokenizer sqlite_log
    """,
    "tsql": """
        xp_cmdshell xp_dirtree xp_regread sp_executesql sp_oacreate sp_configure openrowset openquery
        opendatasource openxml fn_my_permissions fn_dblog fn_get_audit_file fn_xe_file_target_read_file
        scope_identity ident_current decryptbykey pwdencrypt pwdcompare rand
        suser_name suser_sname original_login current_user session_user system_user user user_name serverproperty
    """,
}

# Families no allow list may touch, whatever the dialect.
DANGEROUS_PATTERN = re.compile(
    r"^(pg_(read|ls|stat|file|backup|switch|wal|replication|create|drop|terminate|cancel|reload|rotate|promote|"
    r"logical|import|log_)|lo_|dblink|txid_|xp_|sp_|fn_|open(rowset|query|datasource|xml)$)|advisory|_lock$|sleep"
)


def test_shape():
    assert set(FUNCTIONS) == {"tsql", "postgres", "mysql", "sqlite"}
    for dialect, names in FUNCTIONS.items():
        assert isinstance(names, frozenset)
        assert 100 <= len(names) <= 400, (dialect, len(names))
        bad = sorted(n for n in names if not re.fullmatch(r"[a-z_][a-z0-9_]*", n))
        assert not bad, f"{dialect}: names must be lowercase, unqualified identifiers: {bad}"


@pytest.mark.parametrize("dialect", sorted(DANGEROUS))
def test_known_dangerous_names_are_absent(dialect):
    present = sorted(FUNCTIONS[dialect] & set(DANGEROUS[dialect].split()))
    assert not present, f"{dialect} admits dangerous functions: {present}"
    matching = sorted(n for n in FUNCTIONS[dialect] if DANGEROUS_PATTERN.search(n))
    assert not matching, f"{dialect} admits names from a dangerous family: {matching}"


# --- PostgreSQL ----------------------------------------------------------------------------------

# SQL syntax rather than pg_proc functions, each with a statement that proves the server takes it.
PG_SYNTAX = {
    "cast": "SELECT CAST('1' AS int)",
    "coalesce": "SELECT coalesce(NULL, 1)",
    "nullif": "SELECT nullif(1, 2)",
    "greatest": "SELECT greatest(1, 2)",
    "least": "SELECT least(1, 2)",
    "trim": "SELECT trim(both 'x' from 'xax')",
    "current_date": "SELECT current_date",
    "current_time": "SELECT current_time",
    "current_timestamp": "SELECT current_timestamp",
    "localtime": "SELECT localtime",
    "localtimestamp": "SELECT localtimestamp",
    "current_catalog": "SELECT current_catalog",
}

# Volatile in pg_proc, and still harmless: volatile only because each call may answer differently.
PG_HARMLESS_VOLATILE = {
    "random",  # a pseudo-random number; setseed (which changes session state) is not admitted
    "gen_random_uuid",  # a random UUID from the server's random source, no state kept
    "clock_timestamp",  # the wall clock, read
    "timeofday",  # the wall clock, read, as text
    "pg_relation_size",  # these four stat the relation's files for their size: the size can change
    "pg_total_relation_size",  # under the caller, hence volatile; they read nothing else and
    "pg_table_size",  # take only the AccessShareLock any SELECT of the table takes
    "pg_indexes_size",
}


@pytest.fixture(scope="module")
def pg():
    psycopg = pytest.importorskip("psycopg")
    try:
        connection = psycopg.connect(host="127.0.0.1", port=5432, user=os.environ.get("TEST_PG_USER", "postgres"),
                                     dbname="postgres", connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as error:
        unavailable(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({error})")
    yield connection
    connection.close()


def _pg_catalog(pg, names):
    """Per name: the volatilities, kinds, SECURITY DEFINER and PUBLIC EXECUTE over all pg_catalog overloads."""
    rows = pg.execute(
        """SELECT proname, string_agg(DISTINCT provolatile::text, ''), string_agg(DISTINCT prokind::text, ''),
                  bool_or(prosecdef), bool_and(has_function_privilege('public', oid, 'EXECUTE'))
             FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace AND proname = ANY(%s)
            GROUP BY proname""",
        (sorted(names),),
    ).fetchall()
    return {name: (volatility, kinds, secdef, public) for name, volatility, kinds, secdef, public in rows}


def test_pg_every_name_is_a_catalog_function_or_syntax(pg):
    found = _pg_catalog(pg, FUNCTIONS["postgres"])
    missing = sorted(FUNCTIONS["postgres"] - set(found) - set(PG_SYNTAX))
    assert not missing, f"not in pg_proc and not known syntax: {missing}"


def test_pg_syntax_names_are_admitted_and_run(pg):
    assert set(PG_SYNTAX) <= FUNCTIONS["postgres"]
    with pg.transaction():
        pg.execute("SET TRANSACTION READ ONLY")
        for name, sql in PG_SYNTAX.items():
            assert pg.execute(sql).fetchone() is not None, name


def test_pg_no_volatile_function_but_the_harmless_ones(pg):
    found = _pg_catalog(pg, FUNCTIONS["postgres"])
    volatile = {name for name, (volatility, *_) in found.items() if "v" in volatility}
    unexplained = sorted(volatile - PG_HARMLESS_VOLATILE)
    assert not unexplained, f"volatile, so possibly with side effects: {unexplained}"
    assert PG_HARMLESS_VOLATILE <= FUNCTIONS["postgres"], "an exception for a name that is not admitted"


def test_pg_no_security_definer_no_procedure_and_public_may_execute(pg):
    found = _pg_catalog(pg, FUNCTIONS["postgres"])
    secdef = sorted(name for name, (_, _, is_secdef, _) in found.items() if is_secdef)
    procedures = sorted(name for name, (_, kinds, _, _) in found.items() if "p" in kinds)
    withheld = sorted(name for name, (*_, public) in found.items() if not public)
    assert not secdef, f"SECURITY DEFINER: {secdef}"
    assert not procedures, f"procedures: {procedures}"
    assert not withheld, f"some overload is not executable by PUBLIC (a privileged function): {withheld}"


def test_pg_dangerous_names_exist_so_the_absence_test_means_something(pg):
    core = {"pg_read_file", "pg_ls_dir", "set_config", "nextval", "pg_sleep", "pg_advisory_lock",
            "query_to_xml", "ts_stat", "current_setting", "txid_current", "lo_import"}
    assert core <= set(_pg_catalog(pg, core))


# --- MariaDB / MySQL -----------------------------------------------------------------------------

# MySQL 8 functions MariaDB lacks: harmless there, and a MariaDB server simply refuses the call.
MYSQL_ONLY = {"regexp_like", "any_value"}
# Table functions that a zero-argument call cannot prove: each with a statement that does.
MYSQL_SYNTAX = {"json_table": "SELECT x FROM JSON_TABLE('[1]', '$[*]' COLUMNS (x INT PATH '$')) AS t"}


@pytest.fixture(scope="module")
def mariadb():
    MySQLdb = pytest.importorskip("MySQLdb")
    try:
        connection = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="", db="mysql",
                                     connect_timeout=3)
    except MySQLdb.OperationalError as error:
        unavailable(f"MariaDB is not reachable on 127.0.0.1:3306 ({error})")
    yield connection
    connection.close()


def _column(connection, sql: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {row[0].lower() for row in cursor.fetchall()}


def test_mysql_every_name_is_a_mariadb_function(mariadb):
    with mariadb.cursor() as cursor:
        cursor.execute("SELECT version()")
        if "mariadb" not in cursor.fetchone()[0].lower():
            pytest.skip("information_schema.SQL_FUNCTIONS is MariaDB's (10.6+)")
    functions = _column(mariadb, "SELECT function FROM information_schema.sql_functions")
    keywords = _column(mariadb, "SELECT word FROM information_schema.keywords")
    names = FUNCTIONS["mysql"] - MYSQL_ONLY
    unknown = sorted(names - functions - keywords)
    assert not unknown, f"neither a MariaDB function nor a keyword: {unknown}"

    # A keyword-only name must still parse as a call: a zero-argument probe in a read-only
    # transaction may fail on the arguments (1582) or the syntax (1064), never with "FUNCTION
    # mysql.x does not exist" (1305, 1630). Every probed name is admitted, so running it is harmless.
    not_functions = []
    with mariadb.cursor() as cursor:
        cursor.execute("START TRANSACTION READ ONLY")
        try:
            for name in sorted((names & keywords) - functions - set(MYSQL_SYNTAX)):
                try:
                    cursor.execute(f"SELECT {name}()")
                    cursor.fetchall()
                except mariadb.Error as error:
                    if error.args[0] in (1305, 1630):
                        not_functions.append(name)
            for name, sql in MYSQL_SYNTAX.items():
                cursor.execute(sql)
                cursor.fetchall()
        finally:
            mariadb.rollback()
    assert not not_functions, f"keywords that are not functions: {not_functions}"


def test_mysql_dangerous_names_exist_so_the_absence_test_means_something(mariadb):
    functions = _column(mariadb, "SELECT function FROM information_schema.sql_functions")
    assert {"sleep", "benchmark", "get_lock", "load_file", "last_insert_id", "master_pos_wait"} <= functions


# --- SQLite --------------------------------------------------------------------------------------

# Admitted names this SQLite may be too old for: the version that added each.
SQLITE_NEWER = {
    "unhex": (3, 41, 0),
    "octet_length": (3, 43, 0),
    "timediff": (3, 43, 0),
    "concat": (3, 44, 0),
    "concat_ws": (3, 44, 0),
    "string_agg": (3, 44, 0),
}
SQLITE_SYNTAX = {"cast"}


def test_sqlite_every_name_is_a_function_or_table_function():
    with sqlite3.connect(":memory:") as connection:
        known = {row[0] for row in connection.execute("SELECT name FROM pragma_function_list")}
        known |= {row[0] for row in connection.execute("SELECT name FROM pragma_module_list")}
    too_new = {name for name, version in SQLITE_NEWER.items() if sqlite3.sqlite_version_info < version}
    missing = sorted(FUNCTIONS["sqlite"] - known - SQLITE_SYNTAX - too_new)
    assert not missing, f"not in SQLite {sqlite3.sqlite_version}: {missing}"
    assert "load_extension" in known and "fts3_tokenizer" in known  # the dangerous ones are real names


# --- SQL Server ----------------------------------------------------------------------------------

# Calls that need their own syntax, not a list of arguments.
TSQL_SYNTAX = {
    "cast": "SELECT CAST(1 AS int)",
    "try_cast": "SELECT TRY_CAST('1' AS int)",
    "datepart": "SELECT DATEPART(year, GETDATE())",
}
TSQL_NILADIC = {"current_timestamp"}


def test_tsql_names_have_no_dangerous_prefix():
    names = FUNCTIONS["tsql"]
    bad = sorted(n for n in names if n.startswith(("xp_", "sp_", "fn_")) or (n.startswith("open") and n != "openjson"))
    assert not bad, bad


@pytest.mark.parametrize("name", sorted(FUNCTIONS["tsql"]))
def test_tsql_every_name_parses_as_a_call(name):
    if name in TSQL_SYNTAX:
        tree = sqlglot.parse_one(TSQL_SYNTAX[name], read="tsql")
    else:
        tree = None
        for arity in range(7):  # sqlglot checks the argument count of the functions it knows
            try:
                tree = sqlglot.parse_one(f"SELECT {name}({', '.join(['1'] * arity)})", read="tsql")
                break
            except (sqlglot.errors.SqlglotError, ValueError):  # hashbytes(1) raises ValueError
                continue
        if name in TSQL_NILADIC:
            tree = sqlglot.parse_one(f"SELECT {name}", read="tsql")
        assert tree is not None, f"sqlglot cannot parse {name}(…) as T-SQL"
    assert isinstance(tree, exp.Select) and not tree.find(exp.Command)
