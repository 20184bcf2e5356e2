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
from sqlglot.tokens import Token, TokenType

from sqltools.errors import QueryRefused
from sqltools.hints import parse_error_sentence
from sqltools.lexing import lexing_check
from sqltools.reach import conversions_check, functions_check, identity_check, operators_check, relations_check


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
# SQL Server table hints that take or hold locks beyond a plain read.
_LOCK_HINTS = frozenset(
    {"UPDLOCK", "XLOCK", "HOLDLOCK", "TABLOCK", "TABLOCKX", "PAGLOCK", "SERIALIZABLE", "REPEATABLEREAD"}
)
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


@dataclass(frozen=True)
class Reach:
    """What the operator added to the allow lists (READ_ONLY_EXTRA_FUNCTIONS / _RELATIONS), lowercase."""

    functions: frozenset[str] = frozenset()
    relations: frozenset[str] = frozenset()


MAX_TOKENS = 20_000  # a 65,536-character analyst query has a few thousand; the parser's time grows with them
MAX_DEPTH = 100  # parentheses nested deeper than this are generated, not written


def statement_parse(*, sql: str, dialect: str, max_chars: int = 65_536, reach: Reach = Reach()) -> Statement:
    """Parse exactly one statement, prove what it may do, and classify it; or raise QueryRefused saying why."""
    if not sql or not sql.strip():
        raise QueryRefused("The query is empty.")
    if len(sql) > max_chars:
        raise QueryRefused(f"The query is {len(sql):,} characters long; the limit is {max_chars:,} (MAX_QUERY_CHARS).")
    _refuse_hidden_characters(sql=sql)
    reader = Dialect.get_or_raise(dialect)
    try:
        tokens = reader.tokenize(sql)  # once, for the lexing check and the parser (what sqlglot.parse does)
        _refuse_oversized(tokens)
        lexing_check(sql=sql, dialect=dialect, tokens=tokens)
        trees = [t for t in reader.parser().parse(tokens, sql) if t is not None]
    except SqlglotError as error:
        raise QueryRefused(parse_error_sentence(error=error, sql=sql, dialect=dialect)) from None
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
        kind = Kind.DDL
    elif isinstance(tree, _DML):
        _check_nodes(tree, allow_writes=True)
        kind = Kind.DML
    elif isinstance(tree, _READ_ROOTS):
        _check_nodes(tree, allow_writes=False)
        kind = Kind.READ
    else:
        raise QueryRefused(f"{_first_word(sql)} statements are not supported; send a SELECT query.")
    if kind is not Kind.DDL:  # column definitions in DDL declare types; reads and writes convert values
        operators_check(tree=tree)
        conversions_check(tree=tree, tokens=tokens, dialect=dialect)
        identity_check(tree=tree, dialect=dialect)
    functions_check(tree=tree, sql=sql, dialect=dialect, extra=reach.functions)
    relations_check(tree=tree, dialect=dialect, extra=reach.relations)
    return Statement(kind, tree)


def _refuse_oversized(tokens: list[Token]) -> None:
    if len(tokens) > MAX_TOKENS:
        raise QueryRefused(
            f"The query has {len(tokens):,} tokens; the checker reads at most {MAX_TOKENS:,}. Shorten it."
        )
    depth = 0
    for token in tokens:
        if token.token_type in _OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                raise QueryRefused(f"The query nests brackets more than {MAX_DEPTH} deep; simplify it.")
        elif token.token_type in _CLOSERS:
            depth -= 1


_OPENERS = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSERS = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})


def _check_nodes(tree: exp.Expression, *, allow_writes: bool) -> None:
    for node in tree.walk():
        if isinstance(node, _DML) and node is not tree and not allow_writes:
            raise QueryRefused(
                f"The query contains a data-modifying {statement_keyword(node)} (inside a CTE or subquery); "
                "read-only mode forbids it."
            )
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
        if isinstance(node, (exp.Parameter, exp.SessionParameter)):
            raise QueryRefused(
                f"{node.sql()} is a variable; server and session variables (@@name, @name) are not available "
                "through this server. Write the value into the query instead."
            )
        if isinstance(node, exp.NextValueFor):
            raise QueryRefused("NEXT VALUE FOR advances a sequence; read-only mode forbids it.")
        if (
            isinstance(node, (exp.Var, exp.Column, exp.Identifier))
            and node.name.upper() in _LOCK_HINTS
            and _in_table_hint(node)
        ):
            raise QueryRefused(
                f"The table hint {node.name.upper()} takes locks; only plain reads (optionally NOLOCK) are allowed."
            )


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


def _first_word(sql: str) -> str:
    """The statement's own first keyword, for messages (the parser may have read it as something else)."""
    words = re.findall(r"[A-Za-z_]+", re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S))
    return words[0].upper() if words else "Such"


def statement_keyword(node: exp.Expression) -> str:
    """The statement's verb as a user writes it (TRUNCATE, not TRUNCATETABLE)."""
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper().replace("TRUNCATETABLE", "TRUNCATE")


def _refuse_hidden_characters(*, sql: str) -> None:
    """NUL ends the text for some drivers and servers; invisible format characters hide what is sent."""
    for char in sql:
        if char == "\x00" or unicodedata.category(char) == "Cf":
            raise QueryRefused(
                f"The query contains an invisible character (U+{ord(char):04X}) that the server and the checker "
                "could read differently; remove it."
            )
