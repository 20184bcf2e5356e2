"""Hostile statements that read-only mode must refuse, each with the dialects it applies to.

Every entry is a write, a lock, a session change or an escape from the database in some
disguise: odd casing, comments, invisible characters, batches, CTEs, procedure calls, and
the places where the checker and a server could read the same text differently. Targets that
could outlive the test database (users, files, server settings) are named `readonly_probe*`
so a statement that slipped through would be harmless and easy to find. LEGITIMATE is the
control group: ordinary analysts' queries that must still be accepted.
"""

from __future__ import annotations

from typing import NamedTuple

DIALECTS = ("sqlite", "postgres", "mysql", "tsql")


class Hostile(NamedTuple):
    sql: str
    dialects: frozenset[str]
    label: str


def _entry(dialects: str, label: str, sql: str) -> Hostile:
    names = frozenset(DIALECTS if dialects == "all" else dialects.split())
    assert names <= set(DIALECTS), dialects
    return Hostile(sql, names, label)


_LONG_SELECT = "SELECT " + ", ".join(["1"] * 3000)
_DEEP_SELECT = "SELECT " + "(" * 3000 + "1" + ")" * 3000

HOSTILE: list[Hostile] = [
    # Plain DML, DDL and DCL in odd casing, with comments and leading whitespace.
    _entry("all", "plain delete", "DELETE FROM orders"),
    _entry("all", "comment glued to mixed-case delete", "/**/DeLeTe FROM orders"),
    _entry("all", "line comment then drop", "-- x\nDROP TABLE orders"),
    _entry("all", "leading newlines and tabs", "\n\n\t  \tUPDATE customers SET notes = 'pwned'"),
    _entry("all", "lower/upper mix update", "uPdAtE customers SET notes = NULL WHERE 1 = 1"),
    _entry("all", "block comment inside keyword gap", "UPDATE/* harmless */customers SET notes = 'x'"),
    _entry("all", "insert values", "INSERT INTO employees (employee_id, first_name, last_name, title, hired_on, "
           "salary) VALUES (9999, 'x', 'y', 'z', '2024-01-01', 1)"),
    _entry("all", "insert select", "INSERT INTO order_lines SELECT * FROM order_lines WHERE order_line_id < 0"),
    _entry("all", "quoted identifiers", 'DELETE FROM "orders" WHERE "status" = \'cancelled\''),
    _entry("mysql", "backtick identifiers", "DELETE FROM `orders` WHERE `status` = 'cancelled'"),
    _entry("tsql", "bracket identifiers", "DELETE FROM [dbo].[orders] WHERE [status] = 'cancelled'"),
    _entry("all", "drop table", "DROP TABLE order_lines"),
    _entry("all", "drop view", "DROP VIEW sales_by_customer"),
    _entry("all", "create table", "CREATE TABLE readonly_probe (a INT)"),
    _entry("all", "create view", "CREATE VIEW readonly_probe_v AS SELECT 1 AS a"),
    _entry("all", "create index", "CREATE INDEX readonly_probe_ix ON orders (status)"),
    _entry("all", "alter table", "ALTER TABLE customers ADD readonly_probe INT"),
    _entry("postgres mysql tsql", "truncate", "TRUNCATE TABLE order_lines"),
    _entry("postgres", "create temp table", "CREATE TEMP TABLE readonly_probe AS SELECT * FROM customers"),
    _entry("sqlite", "create temp table", "CREATE TEMP TABLE readonly_probe (a)"),
    _entry("mysql", "create temporary table", "CREATE TEMPORARY TABLE readonly_probe SELECT * FROM customers"),
    _entry("tsql", "create #temp table", "CREATE TABLE #readonly_probe (a INT)"),
    _entry("postgres", "comment on", "COMMENT ON TABLE orders IS 'pwned'"),
    _entry("mysql", "rename table", "RENAME TABLE orders TO readonly_probe"),
    _entry("sqlite", "create trigger",
           "CREATE TRIGGER readonly_probe AFTER INSERT ON orders BEGIN DELETE FROM orders; END"),
    _entry("postgres", "create function", "CREATE FUNCTION readonly_probe() RETURNS int LANGUAGE sql AS 'SELECT 1'"),
    _entry("mysql", "drop database", "DROP DATABASE IF EXISTS readonly_probe_db"),
    # Permissions.
    _entry("postgres mysql tsql", "grant", "GRANT SELECT ON orders TO readonly_probe"),
    _entry("postgres mysql tsql", "revoke", "REVOKE SELECT ON orders FROM readonly_probe"),
    _entry("tsql", "deny", "DENY SELECT ON orders TO readonly_probe"),
    _entry("postgres mysql tsql", "create user", "CREATE USER readonly_probe"),
    _entry("postgres", "alter role", "ALTER ROLE readonly_probe SUPERUSER"),
    _entry("tsql", "alter role add member", "ALTER ROLE db_owner ADD MEMBER readonly_probe"),
    _entry("mysql", "alter user", "ALTER USER readonly_probe IDENTIFIED BY 'x'"),
    _entry("tsql", "create login", "CREATE LOGIN readonly_probe WITH PASSWORD = 'x'"),
    # Invisible and look-alike characters.
    _entry("all", "fullwidth letters", "ＤＥＬＥＴＥ FROM orders"),
    _entry("all", "cyrillic look-alike E in SELECT, then delete", "SЕLECT 1; DELETE FROM orders"),
    _entry("all", "zero-width space inside keyword", "DEL\u200bETE FROM orders"),
    _entry("all", "zero-width space before second statement", "SELECT 1;\u200bDELETE FROM orders"),
    _entry("all", "zero-width joiner as separator", "SELECT 1 AS a\u200dDELETE FROM orders"),
    _entry("all", "byte order mark", "\ufeffDELETE FROM orders"),
    _entry("all", "byte order mark before batch", "\ufeffSELECT 1; DROP TABLE orders"),
    _entry("all", "no-break space between keywords", "DELETE\u00a0FROM\u00a0orders"),
    _entry("all", "ideographic space", "DELETE\u3000FROM orders"),
    _entry("all", "NUL byte between statements", "SELECT 1\x00; DELETE FROM orders"),
    _entry("all", "NUL byte inside keyword", "DEL\x00ETE FROM orders"),
    _entry("all", "NUL byte hidden in a comment", "SELECT 1 /* \x00 */"),
    _entry("all", "leading NUL byte", "\x00DELETE FROM orders"),
    # Several statements, batches, and tails after a semicolon.
    _entry("all", "select then delete", "SELECT 1; DELETE FROM orders"),
    _entry("all", "select then drop, trailing semicolon", "SELECT 1;\nDROP TABLE order_lines;"),
    _entry("all", "string then delete then comment", "SELECT 'x'; DELETE FROM orders; --"),
    _entry("all", "line comment then delete on next line", "SELECT 1; --\nDELETE FROM orders"),
    _entry("all", "semicolon inside comment, real one after", "SELECT 1 /* ; */; DELETE FROM orders"),
    _entry("all", "escaped quote then delete", "SELECT 'it''s'; DELETE FROM orders"),
    _entry("all", "quoted identifier then drop", 'SELECT 1 AS "x"; DROP TABLE "orders"'),
    _entry("all", "statements on separate lines", "SELECT 1\n;\nDELETE FROM orders\n"),
    _entry("tsql", "newline-separated batch without semicolons", "SELECT 1\nDELETE FROM orders"),
    _entry("tsql", "semicolon-less batch: reserved word read as alias", "SELECT 1 DELETE FROM orders"),
    _entry("tsql", "semicolon-less batch after a subquery", "SELECT (SELECT 1) DELETE FROM orders"),
    _entry("tsql", "semicolon-less batch after UNION", "SELECT 1 UNION SELECT 2 DELETE FROM orders"),
    _entry("tsql", "semicolon-less SHUTDOWN", "SELECT 1 SHUTDOWN"),
    _entry("tsql", "semicolon-less COMMIT", "SELECT 1 COMMIT"),
    _entry("tsql", "semicolon-less RECONFIGURE", "SELECT 1 RECONFIGURE"),
    _entry("tsql", "semicolon-less after ideographic space", "SELECT 1\u3000DELETE FROM orders"),
    _entry("tsql", "GO batch separator", "SELECT 1\nGO\nDROP TABLE orders"),
    _entry("tsql", "GO on one line", "SELECT 1 GO DELETE FROM orders"),
    _entry("all", "very long statement hiding a delete at the end", _LONG_SELECT + "; DELETE FROM orders"),
    _entry("all", "very long comment before a delete", "/*" + "x" * 100_000 + "*/ DELETE FROM orders"),
    _entry("all", "nesting deep enough to exhaust the parser", _DEEP_SELECT),
    _entry("all", "empty text", ""),
    _entry("all", "whitespace only", " \n\t \r\n "),
    _entry("all", "lone semicolons", ";;"),
    _entry("all", "comment only", "-- nothing here\n/* or here */"),
    # Writes inside CTEs and subqueries.
    _entry("postgres", "delete in CTE", "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d"),
    _entry("postgres", "update in CTE",
           "WITH u AS (UPDATE customers SET notes = 'x' RETURNING customer_id) SELECT count(*) FROM u"),
    _entry("postgres", "insert in CTE",
           "WITH i AS (INSERT INTO employees SELECT * FROM employees WHERE false RETURNING 1) SELECT * FROM i"),
    _entry("postgres", "write in nested CTE",
           "WITH a AS (WITH b AS (DELETE FROM order_lines RETURNING order_id) SELECT * FROM b) SELECT * FROM a"),
    _entry("postgres", "write in second CTE",
           "WITH a AS (SELECT 1), b AS (DELETE FROM orders RETURNING 1) SELECT * FROM a"),
    _entry("postgres", "data-modifying subquery", "SELECT * FROM (DELETE FROM orders RETURNING *) AS d"),
    _entry("postgres", "data-modifying scalar subquery", "SELECT (DELETE FROM orders RETURNING order_id) AS x"),
    _entry("sqlite postgres mysql tsql", "CTE in front of a delete", "WITH x AS (SELECT 1 AS a) DELETE FROM orders"),
    _entry("sqlite postgres mysql", "recursive CTE in front of an insert",
           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) "
           "INSERT INTO employees (employee_id) SELECT i + 9000 FROM n"),
    _entry("tsql", "delete through a CTE", "WITH d AS (SELECT TOP 10 * FROM orders) DELETE FROM d"),
    # SELECT INTO, file output and file input.
    _entry("postgres tsql", "select into a new table", "SELECT * INTO readonly_probe FROM customers"),
    _entry("postgres", "select into temp table", "SELECT * INTO TEMP readonly_probe FROM customers"),
    _entry("tsql", "select into #temp", "SELECT * INTO #readonly_probe FROM customers"),
    _entry("mysql", "select into user variable", "SELECT customer_id INTO @readonly_probe FROM customers LIMIT 1"),
    _entry("mysql", "into outfile", "SELECT * FROM customers INTO OUTFILE '/tmp/readonly_probe.txt'"),
    _entry("mysql", "into dumpfile", "SELECT notes FROM customers LIMIT 1 INTO DUMPFILE '/tmp/readonly_probe.bin'"),
    _entry("mysql", "load data", "LOAD DATA INFILE '/etc/hostname' INTO TABLE customers"),
    _entry("mysql", "load data local", "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE customers"),
    _entry("mysql", "load_file", "SELECT LOAD_FILE('/etc/passwd')"),
    _entry("mysql", "load_file behind '--1' (not a MySQL comment)", "SELECT 1 --1, LOAD_FILE('/etc/passwd')"),
    _entry("postgres", "copy to file", "COPY customers TO '/tmp/readonly_probe.csv'"),
    _entry("postgres", "copy from program", "COPY customers FROM PROGRAM 'true'"),
    _entry("postgres", "copy query to stdout", "COPY (SELECT * FROM customers) TO STDOUT"),
    _entry("postgres", "pg_read_file", "SELECT pg_read_file('/etc/passwd')"),
    _entry("postgres", "lo_import", "SELECT lo_import('/etc/passwd')"),
    _entry("sqlite", "attach database", "ATTACH DATABASE '/tmp/readonly_probe.db' AS probe"),
    _entry("sqlite", "vacuum into", "VACUUM INTO '/tmp/readonly_probe.db'"),
    _entry("sqlite", "load_extension", "SELECT load_extension('/tmp/readonly_probe.so')"),
    # MERGE and upserts.
    _entry("postgres tsql", "merge",
           "MERGE INTO customers c USING (SELECT 1 AS id) s ON c.customer_id = s.id WHEN MATCHED THEN DELETE"),
    _entry("sqlite postgres", "on conflict", "INSERT INTO products (product_id, sku, name, category, unit_price, "
           "discontinued) VALUES (1, 'x', 'x', 'x', 1, false) ON CONFLICT (product_id) DO UPDATE SET name = 'pwned'"),
    _entry("mysql", "on duplicate key", "INSERT INTO products (product_id, sku, name, category, unit_price, "
           "discontinued) VALUES (1, 'x', 'x', 'x', 1, 0) ON DUPLICATE KEY UPDATE name = 'pwned'"),
    _entry("sqlite mysql", "replace into", "REPLACE INTO products (product_id, sku, name, category, unit_price, "
           "discontinued) VALUES (1, 'x', 'x', 'x', 1, 0)"),
    _entry("sqlite", "insert or replace", "INSERT OR REPLACE INTO employees SELECT * FROM employees"),
    _entry("mysql", "multi-table delete", "DELETE o FROM orders o JOIN customers c ON c.customer_id = o.customer_id"),
    _entry("mysql", "update with order by and limit", "UPDATE customers SET notes = 'x' ORDER BY customer_id LIMIT 1"),
    _entry("tsql", "delete top", "DELETE TOP (10) FROM orders"),
    _entry("tsql", "insert exec", "INSERT INTO orders EXEC readonly_probe"),
    # Procedures, dynamic SQL and escapes to other servers.
    _entry("tsql", "exec procedure", "EXEC sp_who"),
    _entry("tsql", "execute string", "EXECUTE('DROP TABLE orders')"),
    _entry("tsql", "exec string, lower case", "exec ('delete from orders')"),
    _entry("tsql", "sp_executesql", "EXEC sp_executesql N'DELETE FROM orders'"),
    _entry("tsql", "sp_executesql without EXEC", "sp_executesql N'DELETE FROM orders'"),
    _entry("tsql", "xp_cmdshell", "EXEC master..xp_cmdshell 'dir'"),
    _entry("tsql", "sp_configure without EXEC", "sp_configure 'xp_cmdshell', 1"),
    _entry("tsql", "execute as", "EXECUTE AS USER = 'dbo'"),
    _entry("tsql", "declare and exec", "DECLARE @s NVARCHAR(100) = N'DROP TABLE orders'; EXEC(@s)"),
    _entry("tsql", "openrowset", "SELECT * FROM OPENROWSET('SQLNCLI', 'Server=x;Trusted_Connection=yes;', 'SELECT 1')"),
    _entry("tsql", "openrowset bulk", "SELECT * FROM OPENROWSET(BULK 'c:/secret.txt', SINGLE_CLOB) AS x"),
    _entry("tsql", "openquery", "SELECT * FROM OPENQUERY(linked, 'DELETE FROM orders')"),
    _entry("tsql", "opendatasource", "SELECT * FROM OPENDATASOURCE('SQLNCLI', 'Data Source=x').db.dbo.orders"),
    _entry("tsql", "bulk insert", "BULK INSERT orders FROM 'c:/x.csv'"),
    _entry("postgres mysql", "call procedure", "CALL readonly_probe()"),
    _entry("postgres", "do block", "DO $$ BEGIN DELETE FROM orders; END $$"),
    _entry("postgres", "prepare delete", "PREPARE readonly_probe AS DELETE FROM orders"),
    _entry("postgres mysql", "execute prepared", "EXECUTE readonly_probe"),
    _entry("mysql", "prepare from string", "PREPARE readonly_probe FROM 'DELETE FROM orders'"),
    _entry("postgres", "dblink", "SELECT * FROM dblink('dbname=mcp_target', 'SELECT 1') AS t(a int)"),
    _entry("postgres", "dblink_exec", "SELECT dblink_exec('dbname=mcp_target', 'DELETE FROM orders')"),
    _entry("postgres", "query_to_xml runs its text",
           "SELECT query_to_xml('DELETE FROM orders RETURNING 1', true, false, '')"),
    _entry("postgres", "explain analyze runs the delete", "EXPLAIN ANALYZE DELETE FROM orders"),
    _entry("mysql", "do statement", "DO GET_LOCK('readonly_probe', 0)"),
    _entry("mysql", "handler", "HANDLER customers OPEN"),
    # Locking reads and lock statements.
    _entry("postgres mysql", "for update", "SELECT * FROM orders WHERE order_id = 1 FOR UPDATE"),
    _entry("postgres mysql", "for share", "SELECT * FROM orders WHERE order_id = 1 FOR SHARE"),
    _entry("postgres", "for no key update in a subquery",
           "SELECT * FROM (SELECT * FROM orders FOR NO KEY UPDATE) AS o"),
    _entry("postgres", "for update in a CTE",
           "WITH o AS (SELECT * FROM orders FOR UPDATE SKIP LOCKED) SELECT * FROM o"),
    _entry("mysql", "lock in share mode", "SELECT * FROM orders LOCK IN SHARE MODE"),
    _entry("tsql", "updlock hint", "SELECT * FROM orders WITH (UPDLOCK)"),
    _entry("tsql", "xlock hint in a join", "SELECT * FROM orders o WITH (XLOCK, ROWLOCK) "
           "JOIN customers c WITH (NOLOCK) ON c.customer_id = o.customer_id"),
    _entry("tsql", "old-style holdlock", "SELECT * FROM orders (HOLDLOCK)"),
    _entry("tsql", "tablockx hint", "SELECT COUNT(*) FROM orders WITH (TABLOCKX)"),
    _entry("tsql", "updlock in a subquery", "SELECT * FROM (SELECT * FROM orders WITH (NOLOCK, UPDLOCK)) AS x"),
    _entry("postgres", "lock table", "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"),
    _entry("mysql", "lock tables", "LOCK TABLES orders WRITE"),
    _entry("postgres", "advisory lock", "SELECT pg_advisory_lock(42)"),
    _entry("postgres", "advisory lock, quoted name", 'SELECT "pg_advisory_lock"(42)'),
    _entry("postgres", "advisory lock in FROM", "SELECT * FROM pg_try_advisory_lock(42)"),
    _entry("mysql", "get_lock", "SELECT GET_LOCK('readonly_probe', 0)"),
    # Transaction control.
    _entry("all", "begin", "BEGIN"),
    _entry("all", "commit", "COMMIT"),
    _entry("all", "rollback", "ROLLBACK"),
    _entry("sqlite postgres mysql", "savepoint", "SAVEPOINT readonly_probe"),
    _entry("postgres mysql", "start transaction read write", "START TRANSACTION READ WRITE"),
    _entry("tsql", "begin tran", "BEGIN TRAN"),
    _entry("tsql", "save transaction", "SAVE TRANSACTION readonly_probe"),
    _entry("all", "commit then delete", "COMMIT; DELETE FROM orders"),
    _entry("sqlite", "begin immediate", "BEGIN IMMEDIATE"),
    # Session and server state.
    _entry("postgres mysql tsql", "set", "SET TRANSACTION READ WRITE"),
    _entry("postgres", "set session characteristics",
           "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"),
    _entry("postgres", "set_config", "SELECT set_config('default_transaction_read_only', 'off', false)"),
    _entry("postgres", "set_config schema-qualified", "SELECT pg_catalog.set_config('search_path', 'x', false)"),
    _entry("postgres", "set_config, quoted name", "SELECT \"set_config\"('search_path', 'x', false)"),
    _entry("postgres", "reset all", "RESET ALL"),
    _entry("postgres", "alter system", "ALTER SYSTEM SET work_mem = '4MB'"),
    _entry("mysql", "set global", "SET GLOBAL read_only = 0"),
    _entry("mysql", "set session variable", "SET @@session.transaction_read_only = 0"),
    _entry("mysql", "user variable assignment in a select", "SELECT @readonly_probe := 1"),
    _entry("mysql tsql", "use database", "USE readonly_probe_db"),
    _entry("tsql", "declare", "DECLARE @x INT"),
    _entry("tsql", "set nocount", "SET NOCOUNT ON"),
    _entry("tsql", "waitfor delay", "WAITFOR DELAY '00:00:10'"),
    _entry("tsql", "select then waitfor", "SELECT 1; WAITFOR DELAY '00:00:10'"),
    _entry("sqlite", "pragma writable_schema", "PRAGMA writable_schema=1"),
    _entry("sqlite", "pragma query_only off", "PRAGMA query_only = OFF"),
    _entry("sqlite", "pragma then delete", "PRAGMA query_only = 0; DELETE FROM orders"),
    _entry("postgres", "pg_terminate_backend", "SELECT pg_terminate_backend(pg_backend_pid())"),
    _entry("postgres", "pg_notify", "SELECT pg_notify('readonly_probe', 'x')"),
    _entry("postgres", "statistics reset", "SELECT pg_stat_reset()"),
    _entry("postgres", "replication slot that pins WAL",
           "SELECT pg_create_physical_replication_slot('readonly_probe')"),
    _entry("postgres", "WAL message", "SELECT pg_logical_emit_message(false, 'readonly_probe', 'x')"),
    _entry("postgres", "large object creation", "SELECT lo_creat(-1)"),
    _entry("postgres", "standby promotion", "SELECT pg_promote()"),
    _entry("postgres", "listen", "LISTEN readonly_probe"),
    _entry("postgres", "notify", "NOTIFY readonly_probe, 'x'"),
    _entry("postgres", "discard", "DISCARD ALL"),
    _entry("postgres", "checkpoint", "CHECKPOINT"),
    _entry("mysql", "flush tables", "FLUSH TABLES"),
    _entry("tsql", "dbcc", "DBCC CHECKDB"),
    _entry("tsql", "shutdown", "SHUTDOWN WITH NOWAIT"),
    # Maintenance statements.
    _entry("sqlite postgres", "vacuum", "VACUUM"),
    _entry("sqlite postgres mysql", "analyze", "ANALYZE orders"),
    _entry("sqlite postgres", "reindex", "REINDEX orders"),
    _entry("mysql", "optimize table", "OPTIMIZE TABLE orders"),
    # Sequences.
    _entry("postgres mysql", "nextval", "SELECT nextval('readonly_probe_seq')"),
    _entry("postgres mysql", "setval", "SELECT setval('readonly_probe_seq', 1)"),
    _entry("mysql tsql", "next value for", "SELECT NEXT VALUE FOR readonly_probe_seq"),
    _entry("postgres", "create sequence", "CREATE SEQUENCE readonly_probe_seq"),
    # Comments the checker and the server could read differently.
    _entry("mysql", "executable comment alone", "/*! DELETE FROM orders */"),
    _entry("mysql", "executable comment tail", "SELECT 1 /*! , GET_LOCK('readonly_probe', 0) */"),
    _entry("mysql", "versioned executable comment", "SELECT 1 /*!50000 INTO OUTFILE '/tmp/readonly_probe.txt' */"),
    _entry("mysql", "versioned comment hiding a second statement", "SELECT 1 /*!40101 ; DELETE FROM orders */"),
    _entry("mysql", "MariaDB executable comment", "SELECT 1 /*M! , LOAD_FILE('/etc/passwd') */"),
    _entry("mysql", "MariaDB versioned executable comment", "SELECT 1 /*M!100100 FOR UPDATE */"),
    _entry("all", "nested comment read differently", "SELECT 1 /* /* */ , (SELECT COUNT(*) FROM orders) */"),
    _entry("all", "nested comment hiding a delete", "SELECT 1 /* /* */ ; DELETE FROM orders; -- */"),
    _entry("postgres", "carriage return ends a PostgreSQL line comment", "SELECT 1 --x\r; DELETE FROM orders"),
    _entry("mysql", "hash comment then a lock", "SELECT 1 #\n, GET_LOCK('readonly_probe', 0)"),
    # String-literal tricks.
    _entry("postgres sqlite", "backslash does not escape a quote here", "SELECT 'a\\'; DELETE FROM orders; -- '"),
    _entry("mysql", "escaped backslash ends the string", "SELECT '\\\\'; DELETE FROM orders; -- '"),
    _entry("postgres", "dollar-quoted tag", "SELECT $a$'$a$; DELETE FROM orders; --'"),
    _entry("postgres", "dollar quote then delete", "SELECT $$a;b$$; DELETE FROM orders"),
    _entry("postgres", "E-string: an escaped backslash ends the string", "SELECT E'\\\\'; DELETE FROM orders; -- '"),
    _entry("postgres", "dollar sign inside a name is no quote", "SELECT 1 AS a$$, 2; DELETE FROM orders; -- $$"),
    _entry("mysql", "double-quoted string: an escaped backslash ends it", 'SELECT "a\\\\"; DELETE FROM orders; -- "'),
    # Characters that one lexer reads as space or line end and the other as part of a token.
    *(_entry("all", f"line comment ended by U+{ord(c):04X} for the checker only",
             f"SELECT 1 AS ok FROM orders WHERE 1=1 --{c}; SET SESSION TRANSACTION READ WRITE; COMMIT; "
             "DELETE FROM orders; COMMIT") for c in "\u00a0\u3000\u2028\u0085"),
    *(_entry("all", f"U+{ord(c):04X} as a separator", f"SELECT 1{c}UNION SELECT COUNT(*) FROM orders")
      for c in "\u00a0\u2028\u0085\u000b\u000c\u001c"),
    _entry("all", "lone carriage return in a line comment", "SELECT 1 -- note\r, (SELECT COUNT(*) FROM orders)"),
    _entry("mysql", "double dash followed by a non-ASCII space", "SELECT 1 --\u00a0\nFROM orders"),
    _entry("mysql", "optimizer hint comment", "SELECT /*+ SET_VAR(transaction_read_only=0) */ 1"),
    # PostgreSQL escapes that hide a function's name from the checker.
    _entry("postgres", "U& identifier hides pg_read_file", 'SELECT U&"\\0070g_read_file"(\'/etc/passwd\')'),
    _entry("postgres", "U& string with UESCAPE", "SELECT U&'d!0061t!+000061' UESCAPE '!'"),
    # Functions that are not on the allow list: files, SQL text, locks, network, server state.
    _entry("postgres", "ts_stat runs SQL text", "SELECT * FROM ts_stat($$SELECT to_tsvector('x')$$)"),
    _entry("postgres", "shared advisory lock held on the pooled connection", "SELECT pg_try_advisory_lock_shared(42)"),
    _entry("postgres", "WAL directory listing", "SELECT * FROM pg_ls_waldir()"),
    _entry("postgres", "server file schema-qualified", "SELECT pg_catalog.pg_read_file('/etc/passwd')"),
    _entry("postgres", "server file in FROM", "SELECT * FROM pg_catalog.pg_ls_dir('.') AS t(f)"),
    _entry("postgres", "dblink_connect", "SELECT dblink_connect('dbname=mcp_target')"),
    _entry("postgres", "configuration reader", "SELECT current_setting('data_directory')"),
    _entry("postgres", "xml of a query", "SELECT query_to_xml('SELECT 1', true, false, '')"),
    _entry("postgres", "sleep", "SELECT pg_sleep(30)"),
    _entry("postgres", "user-defined function in a schema", "SELECT public.readonly_probe()"),
    _entry("postgres", "function through attribute-style call", "SELECT pg_catalog.lo_import('/etc/passwd')"),
    _entry("mysql", "LAST_INSERT_ID sets session state", "SELECT LAST_INSERT_ID(42)"),
    _entry("mysql", "sleep", "SELECT SLEEP(30)"),
    _entry("mysql", "benchmark", "SELECT BENCHMARK(100000000, MD5('x'))"),
    _entry("mysql", "backtick-quoted function name", "SELECT `sleep`(1)"),
    _entry("sqlite", "readfile", "SELECT readfile('/etc/passwd')"),
    _entry("sqlite", "fts3_tokenizer", "SELECT fts3_tokenizer('simple')"),
    _entry("tsql", "user function", "SELECT dbo.readonly_probe()"),
    _entry("tsql", "fn_ dynamic management function", "SELECT * FROM sys.fn_get_audit_file('c:/x', DEFAULT, DEFAULT)"),
    # System relations that hold credentials, settings, files or other sessions.
    _entry("postgres", "pg_authid", "SELECT rolname, rolpassword FROM pg_authid"),
    _entry("postgres", "pg_shadow, qualified", "SELECT * FROM pg_catalog.pg_shadow"),
    _entry("postgres", "pg_file_settings", "SELECT * FROM pg_file_settings"),
    _entry("postgres", "pg_hba_file_rules", "SELECT * FROM pg_hba_file_rules"),
    _entry("postgres", "other sessions' queries", "SELECT query FROM pg_stat_activity"),
    _entry("postgres", "settings view", "SELECT name, setting FROM pg_settings"),
    _entry("postgres", "system relation behind a CTE of the same name",
           "SELECT * FROM pg_authid, (WITH pg_authid AS (SELECT 1 AS a) SELECT * FROM pg_authid) AS x"),
    _entry("mysql", "mysql.user", "SELECT user, authentication_string FROM mysql.user"),
    _entry("mysql", "process list", "SELECT * FROM information_schema.processlist"),
    _entry("mysql", "performance_schema", "SELECT * FROM performance_schema.threads"),
    _entry("mysql", "global variables", "SELECT * FROM information_schema.global_variables"),
    _entry("tsql", "sql_logins", "SELECT name, password_hash FROM sys.sql_logins"),
    _entry("tsql", "dm_ view", "SELECT * FROM sys.dm_exec_sessions"),
    _entry("tsql", "compatibility view unqualified", "SELECT * FROM syslogins"),
    _entry("tsql", "compatibility view in another database", "SELECT * FROM master..sysprocesses"),
    _entry("tsql", "linked server", "SELECT * FROM linked.db.dbo.orders"),
    # Findings of the black-box review: sampled values, secrets in standard views, variables, login names.
    _entry(
        "postgres",
        "sampled values of pg_authid through pg_stats",
        "SELECT attname, most_common_vals FROM pg_stats WHERE tablename = 'pg_authid'",
    ),
    _entry("postgres", "foreign-server passwords", "SELECT * FROM information_schema.user_mapping_options"),
    _entry(
        "postgres",
        "user mappings behind an underscore view",
        "SELECT umoptions FROM information_schema._pg_user_mappings",
    ),
    _entry("postgres", "foreign server addresses", "SELECT * FROM information_schema.foreign_server_options"),
    _entry("postgres", "roles", "SELECT * FROM information_schema.enabled_roles"),
    _entry("postgres", "other databases", "SELECT datname FROM pg_database"),
    _entry("postgres", "login name, quoted call", 'SELECT "session_user"()'),
    _entry("postgres", "login name keyword", "SELECT current_user"),
    _entry("mysql", "data directory", "SELECT @@datadir"),
    _entry("mysql", "quoted server variable", "SELECT @@`log_error`"),
    _entry("mysql", "global variable", "SELECT @@global.secure_file_priv"),
    _entry("mysql", "user variable read", "SELECT @readonly_probe"),
    _entry("mysql", "login and client host", "SELECT user(), current_user(), session_user(), system_user()"),
    _entry("tsql", "server name", "SELECT @@SERVERNAME"),
    _entry("tsql", "machine name", "SELECT SERVERPROPERTY('MachineName')"),
    _entry("tsql", "login name", "SELECT SUSER_SNAME(), ORIGINAL_LOGIN()"),
    _entry("sqlite", "database file path", "SELECT file FROM pragma_database_list"),
    _entry("sqlite", "optimizer that may write statistics", "SELECT * FROM pragma_optimize"),
    _entry("sqlite", "page statistics", "SELECT * FROM dbstat"),
    _entry("sqlite", "pragma function call", "SELECT * FROM pragma_compile_options()"),
    # User code behind operators and casts: a user-defined operator, a domain's CHECK, a type's input.
    _entry("postgres sqlite tsql", "operator named by schema", "SELECT 1 OPERATOR(public.###) 2"),
    _entry("all", "built-in operator named by schema", "SELECT 1 OPERATOR(pg_catalog.+) 2"),
    _entry("postgres sqlite tsql", "unknown operator symbol", "SELECT 1 ### 2"),
    _entry("postgres", "unknown operator in explain's constant folding", "SELECT order_id #@# 1 FROM orders"),
    _entry("postgres", "one PostgreSQL operator sqlglot reads as two NOTs", "SELECT !! 5"),
    _entry("postgres", "one PostgreSQL operator sqlglot reads as ~ and minus", "SELECT order_id ~- 1 FROM orders"),
    _entry("postgres", "cast to a domain", "SELECT 5::readonly_probe_dom"),
    _entry("postgres sqlite tsql", "CAST to a user-defined type", "SELECT CAST(5 AS readonly_probe_dom)"),
    _entry("postgres", "typed literal of a domain", "SELECT readonly_probe_dom '5'"),
    _entry("postgres", "array of a schema-qualified domain", "SELECT '{5}'::public.readonly_probe_dom[]"),
    _entry("postgres", "domain in a record's column list",
           "SELECT x FROM jsonb_to_record('{\"x\": 5}') AS r(x readonly_probe_dom)"),
    _entry("postgres", "type word PostgreSQL does not ship", "SELECT order_id::long FROM orders"),
    _entry("postgres", "datetime is not a PostgreSQL type", "SELECT '2024-01-01'::datetime"),
    _entry("sqlite tsql", "TRY_CAST to a user-defined type", "SELECT TRY_CAST(5 AS readonly_probe_dom)"),
    _entry("tsql", "CONVERT to a user-defined type", "SELECT CONVERT(dbo.readonly_probe_type, 5)"),
    # Sizes the checker refuses before parsing.
    _entry("all", "query text over the limit", "SELECT 1 AS a" + " " * 70_000),
    _entry("all", "a hundred thousand tokens", "SELECT " + "1+" * 50_000 + "1"),
]


def hostile_for(dialect: str) -> list[Hostile]:
    """The entries that apply to one dialect."""
    return [entry for entry in HOSTILE if dialect in entry.dialects]


# The control group: analysts' queries that read-only mode must still accept (and run on the demo data).
LEGITIMATE = [
    (
        "all",
        "SELECT c.country, COUNT(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
        "GROUP BY c.country ORDER BY n DESC",
    ),
    (
        "all",
        "WITH spent AS (SELECT o.customer_id, SUM(l.quantity * l.unit_price) AS total FROM orders o "
        "JOIN order_lines l ON l.order_id = o.order_id GROUP BY o.customer_id) "
        "SELECT COUNT(*) AS big_spenders FROM spent WHERE total > 1000",
    ),
    (
        "all",
        "SELECT order_id, customer_id, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY ordered_at) AS nth "
        "FROM orders WHERE customer_id <= 5",
    ),
    (
        "all",
        "SELECT order_line_id, SUM(quantity) OVER (ORDER BY order_line_id ROWS BETWEEN UNBOUNDED PRECEDING "
        "AND CURRENT ROW) AS running FROM order_lines WHERE order_id <= 3",
    ),
    (
        "all",
        "SELECT category, AVG(unit_price) AS avg_price, MIN(unit_price) AS lo, MAX(unit_price) AS hi "
        "FROM products GROUP BY category HAVING COUNT(*) > 5",
    ),
    ("all", "SELECT country AS label FROM customers UNION SELECT category FROM products"),
    ("all", "SELECT status FROM orders WHERE order_id < 5 UNION ALL SELECT status FROM orders WHERE order_id > 12495"),
    (
        "all",
        "SELECT name FROM customers WHERE customer_id IN (SELECT customer_id FROM orders WHERE status = 'returned')",
    ),
    (
        "all",
        "SELECT c.name FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o "
        "WHERE o.customer_id = c.customer_id AND o.status = 'returned')",
    ),
    (
        "all",
        "SELECT order_id, CASE WHEN status = 'shipped' THEN 'done' WHEN status = 'pending' THEN 'open' "
        "ELSE 'other' END AS state FROM orders WHERE order_id <= 10",
    ),
    ("all", "SELECT COUNT(*) AS n FROM customers WHERE email LIKE 'buyer1%' AND name LIKE '%Co%'"),
    ("all", "SELECT 'a;b' AS s, 'it''s -- not a comment /* nor this */' AS t"),
    ("all", "-- note: orders per status\nSELECT status, COUNT(*) AS n FROM orders GROUP BY status"),
    ("all", "SELECT /* note */ COUNT(*) AS n FROM orders -- trailing note"),
    ("all", "SELECT customer_id, revenue FROM sales_by_customer WHERE orders > 20"),
    (
        "all",
        "SELECT e.first_name, m.first_name AS manager FROM employees e LEFT JOIN employees m "
        "ON m.employee_id = e.manager_id",
    ),
    (
        "all",
        "SELECT t.status, t.n FROM (SELECT status, COUNT(*) AS n FROM orders GROUP BY status) AS t WHERE t.n > 100",
    ),
    (
        "all",
        "SELECT p.name, (SELECT COUNT(*) FROM order_lines l WHERE l.product_id = p.product_id) AS line_count "
        "FROM products p WHERE p.product_id <= 5",
    ),
    ("all", "SELECT DISTINCT country FROM customers WHERE notes IS NULL"),
    ("all", "SELECT COUNT(*) AS n FROM orders;"),
    (
        "sqlite postgres mysql",
        "WITH RECURSIVE chain(employee_id, depth) AS (SELECT employee_id, 0 FROM employees "
        "WHERE manager_id IS NULL UNION ALL SELECT e.employee_id, c.depth + 1 FROM employees e "
        "JOIN chain c ON e.manager_id = c.employee_id) SELECT depth, COUNT(*) AS n FROM chain GROUP BY depth",
    ),
    ("sqlite postgres mysql", "SELECT name, credit_limit FROM customers ORDER BY credit_limit DESC LIMIT 5"),
    ("postgres", "SELECT status, COUNT(*) FILTER (WHERE shipped_on IS NULL) AS unshipped FROM orders GROUP BY status"),
    (
        "postgres",
        "SELECT json_agg(status) AS statuses, string_agg(status, ',') AS joined FROM orders WHERE order_id < 5",
    ),
    (
        "postgres",
        "SELECT order_id::text AS id, ordered_at::date AS day FROM orders WHERE status ILIKE 'SHIP%' AND order_id < 5",
    ),
    (
        "postgres",
        "SELECT order_id::bigint AS id, CAST(order_id AS double precision) AS d, ordered_at::timestamptz AS at, "
        "to_tsvector('simple', status)::tsvector AS words, status || '!' AS shout, status ~ '^[a-z]' AS lower_case, "
        "'{\"a\": 1}'::jsonb ->> 'a' AS a FROM orders WHERE order_id < 5",
    ),
    ("all", "SELECT CAST(order_id AS CHAR(10)) AS id, CAST(order_id AS DECIMAL(10, 2)) AS n FROM orders "
            "WHERE order_id < 5"),
    ("mysql", "SELECT `status`, COUNT(*) AS n FROM `orders` GROUP BY `status` # per status"),
    ("tsql", "SELECT TOP 5 * FROM orders WITH (NOLOCK) ORDER BY order_id"),
    (
        "tsql",
        "SELECT TOP (3) c.name, COUNT(*) AS n FROM dbo.customers AS c WITH (NOLOCK) "
        "JOIN dbo.orders AS o WITH (NOLOCK) ON o.customer_id = c.customer_id GROUP BY c.name ORDER BY n DESC",
    ),
    (
        "tsql",
        "WITH chain AS (SELECT employee_id, 0 AS depth FROM employees WHERE manager_id IS NULL UNION ALL "
        "SELECT e.employee_id, c.depth + 1 FROM employees e JOIN chain c ON e.manager_id = c.employee_id) "
        "SELECT depth, COUNT(*) AS n FROM chain GROUP BY depth OPTION (MAXRECURSION 10)",
    ),
    (
        "tsql",
        "SELECT [status] AS [Delete], DATEADD(day, 1, MAX(ordered_at)) AS next_day "
        "FROM [dbo].[orders] GROUP BY [status]",
    ),
]


def legitimate_for(dialect: str) -> list[str]:
    """The control queries that apply to one dialect."""
    return [sql for dialects, sql in LEGITIMATE if dialects == "all" or dialect in dialects.split()]
