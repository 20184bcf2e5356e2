"""Decide, with a real SQL parser, whether a statement may run.

Read-only mode admits a statement only when sqlglot, in the target's dialect, parses it
into exactly one query whose every node is known to be free of side effects. Anything it
cannot parse is refused. This is one layer: read-only statements also run in a transaction
that is always rolled back (read-only where the backend has such transactions), and the real
boundary is a database login that can only read (docs/read_only.md).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token

from sqltools.errors import QueryRefused


class Kind(enum.Enum):
    READ = "read"
    DML = "dml"
    DDL = "ddl"


@dataclass(frozen=True)
class Statement:
    """One parsed statement: its kind and the parse tree."""

    kind: Kind
    tree: exp.Expression


_READ_ROOTS = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
_DML = (exp.Insert, exp.Update, exp.Delete, exp.Merge)
_DDL = (exp.Create, exp.Drop, exp.Alter, exp.TruncateTable, exp.Comment, exp.Analyze)
# Statement kinds that are never run through the tools, in any mode, with the reason given.
_NEVER = {
    exp.Command: "it is a command the parser cannot analyse",
    exp.Execute: "EXEC/EXECUTE runs procedures whose effects cannot be checked",
    exp.Transaction: "transaction control belongs to the server, not to the query",
    exp.Commit: "transaction control belongs to the server, not to the query",
    exp.Rollback: "transaction control belongs to the server, not to the query",
    exp.Set: "SET changes session state",
    exp.Use: "USE switches databases",
    exp.Declare: "DECLARE starts a batch",
    exp.Grant: "GRANT/REVOKE change permissions",
    exp.Revoke: "GRANT/REVOKE change permissions",
    exp.Copy: "COPY reads or writes files",
    exp.Pragma: "PRAGMA can change the database",
    exp.LoadData: "LOAD DATA writes to tables",
}
# Functions that write, lock, sleep the server's workers on purpose, or reach outside the database.
_DENIED_FUNCTIONS = frozenset(
    """
    openrowset openquery opendatasource openxml xp_cmdshell sp_executesql
    nextval setval lastval pg_advisory_lock pg_advisory_xact_lock pg_try_advisory_lock
    pg_try_advisory_xact_lock pg_advisory_lock_shared lo_import lo_export lo_unlink lo_create
    lo_from_bytea lo_put dblink dblink_exec pg_terminate_backend pg_cancel_backend pg_reload_conf
    pg_rotate_logfile set_config pg_read_file pg_read_binary_file pg_ls_dir pg_stat_file
    pg_switch_wal pg_create_restore_point txid_current pg_current_xact_id
    pg_notify query_to_xml query_to_xmlschema query_to_xml_and_xmlschema lo_creat lo_open lowrite lo_truncate
    pg_stat_reset pg_stat_reset_shared pg_stat_reset_single_table_counters pg_stat_reset_single_function_counters
    pg_stat_reset_slru pg_stat_reset_replication_slot pg_create_physical_replication_slot
    pg_create_logical_replication_slot pg_drop_replication_slot pg_replication_slot_advance
    pg_replication_origin_create pg_replication_origin_drop pg_logical_emit_message pg_promote
    pg_backup_start pg_backup_stop pg_start_backup pg_stop_backup pg_wal_replay_pause pg_wal_replay_resume
    pg_file_write pg_file_rename pg_file_unlink
    get_lock release_lock release_all_locks load_file sys_exec sys_eval
    load_extension writefile readfile edit fts3_tokenizer
    """.split()
)
# SQL Server table hints that take or hold locks beyond a plain read.
_LOCK_HINTS = frozenset({"UPDLOCK", "XLOCK", "HOLDLOCK", "TABLOCK", "TABLOCKX", "PAGLOCK", "SERIALIZABLE", "REPEATABLEREAD"})
# T-SQL needs no semicolon between statements, and these reserved words each start one: where
# sqlglot reads one as a bare name (`SELECT 1 DELETE FROM t` as an alias), SQL Server runs two.
_TSQL_STATEMENT_WORDS = frozenset(
    """
    alter backup begin break bulk checkpoint close commit continue create dbcc deallocate declare
    delete deny drop dump exec execute fetch goto grant if insert kill load merge open print
    raiserror readtext reconfigure restore return revert revoke rollback save select set setuser
    shutdown truncate update updatetext use waitfor while with writetext
    """.split()
)


def statement_parse(*, sql: str, dialect: str) -> Statement:
    """Parse exactly one statement and classify it, or raise QueryRefused saying why."""
    if not sql or not sql.strip():
        raise QueryRefused("The query is empty.")
    _refuse_hidden_characters(sql=sql)
    reader = Dialect.get_or_raise(dialect)
    try:
        tokens = reader.tokenize(sql)  # once, for the comment check and the parser (what sqlglot.parse does)
        _refuse_ambiguous_comments(tokens)
        trees = [t for t in reader.parser().parse(tokens, sql) if t is not None]
    except SqlglotError as error:
        first_line = str(error).splitlines()[0]
        raise QueryRefused(f"The query could not be parsed as {dialect} SQL, so it was not run ({first_line}).") from None
    except RecursionError:
        raise QueryRefused("The query is nested too deeply to be checked, so it was not run.") from None
    if len(trees) != 1:
        raise QueryRefused(f"Send one statement per call; this text holds {len(trees)}.")
    tree = trees[0]
    for node_type, why in _NEVER.items():
        if isinstance(tree, node_type):
            raise QueryRefused(f"{statement_keyword(tree)} is not allowed: {why}.")
    if dialect == "tsql":
        _refuse_statement_words_as_names(tree)
    if isinstance(tree, _DDL):
        return Statement(Kind.DDL, tree)
    if isinstance(tree, _DML):
        _check_nodes(tree, allow_writes=True)
        return Statement(Kind.DML, tree)
    if not isinstance(tree, _READ_ROOTS):
        raise QueryRefused(f"{_first_word(sql)} statements are not supported; send a SELECT query.")
    _check_nodes(tree, allow_writes=False)
    return Statement(Kind.READ, tree)


def _check_nodes(tree: exp.Expression, *, allow_writes: bool) -> None:
    for node in tree.walk():
        if isinstance(node, _DML) and node is not tree and not allow_writes:
            raise QueryRefused(f"The query contains a data-modifying {statement_keyword(node)} (inside a CTE or subquery); read-only mode forbids it.")
        if isinstance(node, _DDL + tuple(_NEVER)) and node is not tree:
            raise QueryRefused(f"The query contains {statement_keyword(node)}, which is not allowed.")
        if isinstance(node, exp.Into):
            raise QueryRefused("SELECT ... INTO creates or writes a table or file; read-only mode forbids it.")
        if isinstance(node, exp.Lock):
            raise QueryRefused("Locking reads (FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE) are not allowed.")
        if isinstance(node, exp.PropertyEQ) and isinstance(node.this, (exp.Parameter, exp.SessionParameter)):
            raise QueryRefused(
                "Assigning to a variable (@name := ...) changes session state; read-only mode forbids it."
            )
        if isinstance(node, exp.NextValueFor):
            raise QueryRefused("NEXT VALUE FOR advances a sequence; read-only mode forbids it.")
        if isinstance(node, exp.Func) and _function_name(node) in _DENIED_FUNCTIONS:
            raise QueryRefused(f"The function {_function_name(node).upper()} is not allowed: it writes, locks or reaches outside the database.")
        if isinstance(node, (exp.Var, exp.Column, exp.Identifier)) and node.name.upper() in _LOCK_HINTS and _in_table_hint(node):
            raise QueryRefused(f"The table hint {node.name.upper()} takes locks; only plain reads (optionally NOLOCK) are allowed.")


def _refuse_statement_words_as_names(tree: exp.Expression) -> None:
    for node in tree.find_all(exp.Identifier):
        if not node.args.get("quoted") and node.name.lower() in _TSQL_STATEMENT_WORDS:
            word = node.name.upper()
            raise QueryRefused(
                f"{word} is used as a name, but SQL Server would read it as the start of a second statement; "
                f"write [{node.name}] if it is a name."
            )


def _in_table_hint(node: exp.Expression) -> bool:
    """True for hints in WITH (...) and in the old-style `FROM t (HOLDLOCK)` that parses as a call."""
    parent = node.parent
    while parent is not None and not isinstance(parent, (exp.Select, exp.Subquery)):
        if isinstance(parent, (exp.WithTableHint, exp.Anonymous, exp.Table)):
            return True
        parent = parent.parent
    return False


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()  # unquoted: "set_config"(...) calls set_config
    return node.sql_name().lower()


def _first_word(sql: str) -> str:
    """The statement's own first keyword, for messages (the parser may have read it as something else)."""
    words = re.findall(r"[A-Za-z_]+", re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S))
    return words[0].upper() if words else "Such"


def statement_keyword(node: exp.Expression) -> str:
    """The statement's verb as a user writes it (TRUNCATE, not TRUNCATETABLE)."""
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper().replace("TRUNCATETABLE", "TRUNCATE")


def _refuse_ambiguous_comments(tokens: list[Token]) -> None:
    """Refuse comments that the parser and the server might read differently.

    MySQL runs the body of /*! ... */ and does not nest block comments; sqlglot does the
    opposite of both. Nested or executable comments are never needed in an analyst's query.
    """
    for token in tokens:
        for comment in token.comments:
            if "/*" in comment or "*/" in comment or comment.lstrip().startswith(("!", "M!")):
                raise QueryRefused("Nested or executable comments are not allowed: the server and the checker could read them differently.")


def _refuse_hidden_characters(*, sql: str) -> None:
    """NUL ends the text for some drivers and servers; invisible format characters hide what is sent."""
    for char in sql:
        if char == "\x00" or unicodedata.category(char) == "Cf":
            raise QueryRefused(
                f"The query contains an invisible character (U+{ord(char):04X}) that the server and the checker "
                "could read differently; remove it."
            )
