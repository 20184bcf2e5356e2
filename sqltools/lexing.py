"""Make sure the guard reads a statement's text the way the database server will.

sqlglot's tokenizer and each server's lexer disagree at the edges: MariaDB needs ASCII
whitespace after `--` where sqlglot takes any, PostgreSQL nests block comments and reads
`U&"…"` escapes, MySQL runs `/*! … */`, identifiers may hold characters that sqlglot reads as
spaces. Rather than list such tricks, `lexing_check` splits the text into code, strings,
quoted identifiers and comments by the server's own rules (with the session modes that change
them pinned: docs/read_only.md), checks the characters of each part, and then requires that
sqlglot's tokens cover exactly the same code and literals. Any disagreement refuses the text.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from typing import Sequence

from sqlglot.tokens import Token, TokenType

from sqltools.errors import QueryRefused

CODE, LITERAL, COMMENT = 0, 1, 2

# Token types whose text is a quoted string or identifier (delimiters and any prefix included).
_LITERAL_TOKENS = frozenset({
    TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.IDENTIFIER, TokenType.BYTE_STRING,
    TokenType.HEX_STRING, TokenType.BIT_STRING, TokenType.HEREDOC_STRING, TokenType.RAW_STRING,
    TokenType.UNICODE_STRING,
})
_CLOSERS = "'\"`]$"

# Where a non-code part may start, per dialect (everything in between is code).
_STARTS = {
    "postgres": re.compile(r"['\"]|--|/\*|\$"),
    "mysql": re.compile(r"['\"`#]|--|/\*"),
    "tsql": re.compile(r"['\"\[]|--|/\*"),
    "sqlite": re.compile(r"['\"`\[]|--|/\*"),
}
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$\u0080-\U0010ffff]")
_CODE_SPACE = frozenset(" \t\n")


def lexing_check(*, sql: str, dialect: str, tokens: Sequence[Token]) -> None:
    """Refuse `sql` unless the server and sqlglot split it into the same tokens and literals."""
    parts = server_parts(sql=sql, dialect=dialect)
    marks = bytearray(len(sql))
    for kind, start, end in parts:
        if kind != CODE:
            marks[start:end] = bytes([kind]) * (end - start)
        _check_characters(sql, kind, start, end)
    _check_tokens(sql, marks, parts, tokens)
    if dialect == "postgres":
        _check_operators(sql, parts, tokens)


def server_parts(*, sql: str, dialect: str) -> list[tuple[int, int, int]]:
    """(kind, start, end) of each code, literal and comment part, by the server's lexing rules."""
    starts = _STARTS[dialect]
    parts: list[tuple[int, int, int]] = []
    position = 0
    while position < len(sql):
        match = starts.search(sql, position)
        if match is None:
            break
        start = match.start()
        end_and_kind = _part_at(sql, start, match.group(), dialect)
        if end_and_kind is None:  # not a literal or comment here after all (`--x` in MySQL, `a$b`)
            parts.append((CODE, position, start + 1))
            position = start + 1
            continue
        end, kind = end_and_kind
        parts.append((CODE, position, start))
        parts.append((kind, start, end))
        position = end
    parts.append((CODE, position, len(sql)))
    return [part for part in parts if part[2] > part[1]]


def _part_at(sql: str, start: int, opener: str, dialect: str) -> tuple[int, int] | None:
    if opener == "--":
        if dialect == "mysql" and sql[start + 2:start + 3] not in ("\t", "\n", " ", "\r"):
            return None  # MySQL reads `--x` as minus minus x
        return _line_end(sql, start), COMMENT
    if opener == "#":
        return _line_end(sql, start), COMMENT
    if opener == "/*":
        return _block_comment_end(sql, start, dialect), COMMENT
    if opener == "$":
        return _dollar_end(sql, start)
    if opener == "[" and dialect in ("tsql", "sqlite"):
        return _quoted_end(sql, start, "]", doubled=dialect == "tsql"), LITERAL
    backslashes = dialect == "mysql" and opener in "'\"" or _postgres_escape_string(sql, start, dialect)
    if dialect == "postgres" and sql[max(0, start - 2):start].lower() == "u&":
        raise QueryRefused("U& escapes in strings and names are not accepted; write the characters themselves.")
    return _quoted_end(sql, start, opener, doubled=True, backslashes=backslashes), LITERAL


def _postgres_escape_string(sql: str, start: int, dialect: str) -> bool:
    """E'…' (not a name ending in e) reads backslash escapes; standard strings do not."""
    return (dialect == "postgres" and sql[start] == "'" and start > 0 and sql[start - 1] in "eE"
            and (start < 2 or not _IDENT_CHAR.match(sql[start - 2])))


def _quoted_end(sql: str, start: int, closer: str, *, doubled: bool, backslashes: bool = False) -> int:
    position = start + 1
    while True:
        found = sql.find(closer, position)
        if backslashes:
            escape = sql.find("\\", position)
            if escape != -1 and (found == -1 or escape < found):
                position = escape + 2
                continue
        if found == -1:
            raise QueryRefused("A string or quoted name is not closed, so the query was not run.")
        if doubled and sql.startswith(closer, found + 1):
            position = found + 2
            continue
        return found + 1


def _line_end(sql: str, start: int) -> int:
    end = sql.find("\n", start)
    return len(sql) if end == -1 else end


def _block_comment_end(sql: str, start: int, dialect: str) -> int:
    if dialect == "mysql" and sql[start + 2:start + 3] in ("!", "+") or sql.startswith("/*M!", start):
        raise QueryRefused("Executable comments and optimizer hints (/*! … */, /*+ … */) are not allowed.")
    end = sql.find("*/", start + 2)
    if end == -1:
        raise QueryRefused("A /* comment is not closed, so the query was not run.")
    if sql.find("/*", start + 2, end) != -1:  # PostgreSQL and SQL Server nest comments, MySQL and SQLite do not
        raise QueryRefused("A comment inside a comment reads differently on different servers; remove it.")
    return end + 2


def _dollar_end(sql: str, start: int) -> tuple[int, int] | None:
    if start > 0 and _IDENT_CHAR.match(sql[start - 1]):
        return None  # `$` inside a name (a$b) or after a number
    tag = _DOLLAR_TAG.match(sql, start)
    if tag is None:
        return None  # `$1`, a parameter
    end = sql.find(tag.group(), tag.end())
    if end == -1:
        raise QueryRefused("A $$-quoted string is not closed, so the query was not run.")
    return end + len(tag.group()), LITERAL


def _check_characters(sql: str, kind: int, start: int, end: int) -> None:
    if kind == LITERAL:
        return
    text = sql[start:end]
    if text.isascii() and text.isprintable():
        return
    for offset, char in enumerate(text):
        if char in _CODE_SPACE or " " <= char <= "~":
            continue
        if char == "\r" and text[offset + 1:offset + 2] == "\n":
            continue
        category = unicodedata.category(char)
        if kind == CODE and category[0] in "LMN":
            continue  # letters in names; the token check below makes sure both sides see a name
        if kind == COMMENT and category[0] not in "CZ":
            continue
        raise QueryRefused(
            f"The query contains U+{ord(char):04X} ({unicodedata.name(char, 'a control character').lower()}) "
            f"{'in a comment' if kind == COMMENT else 'outside strings and quoted names'}, which the server and "
            "the checker could read differently; use plain spaces and line breaks."
        )


def _check_tokens(sql: str, marks: bytearray, parts: list[tuple[int, int, int]], tokens: Sequence[Token]) -> None:
    literal_ends = {end: start for kind, start, end in parts if kind == LITERAL}
    covered = bytearray(len(sql))
    for token in tokens:
        start, end = token.start, token.end + 1
        if token.token_type in _LITERAL_TOKENS and sql[end - 1:end] in _CLOSERS:
            literal_start = literal_ends.pop(end, None)
            if literal_start is None or literal_start < start or any(marks[start:literal_start]):
                _disagree()
        elif any(marks[start:end]):
            _disagree()
        covered[start:end] = b"\x01" * (end - start)
    if literal_ends:
        _disagree()
    for kind, start, end in parts:
        if kind == CODE:
            for match in re.finditer(r"\S", sql[start:end]):
                if not covered[start + match.start()]:
                    _disagree()


_PG_OPERATOR = re.compile(r"[~!@#^&|`?+\-*/%<>=]+")
# Built-in operators that sqlglot reads as two tokens and puts back together as the same operator.
_PG_REJOINED = frozenset({"<<", ">>", "!~", "!~*", "!~~", "!~~*"})
# PostgreSQL's own operators of more than one character (pg_operator, oid < 16384; tests/sqltools/test_lexing.py
# checks them against a real server), plus `!=` (read as <>) and `=>` (named arguments). Any other run is not
# PostgreSQL's, whatever another dialect means by it (`<=>`, `==`): only the database owner could define it.
_PG_MULTI_CHARACTER = frozenset(
    "!! !~ !~* !~~ !~~* ## #- #> #>> && &< &<| &> *< *<= *<> *= *> *>= -> ->> -|- <-> << <<= <<| <= <> <@ <^ >= "
    ">> >>= >^ ?# ?& ?- ?-| ?| ?|| @-@ @> @? @@ @@@ ^@ |&> |/ |>> || ||/ ~* ~<=~ ~<~ ~= ~>=~ ~>~ ~~ ~~* != =>"
    .split())


def _check_operators(sql: str, parts: list[tuple[int, int, int]], tokens: Sequence[Token]) -> None:
    """PostgreSQL reads a run of operator characters as one operator (`!!`, `~-`), which may be the database
    owner's function; sqlglot must read each such run as one token too, not as several built-in ones."""
    starts = [token.start for token in tokens]  # in order, and tokens do not overlap
    for kind, start, end in parts:
        position = start
        while kind == CODE and (match := _PG_OPERATOR.search(sql, position, end)):
            op_start, op_end = match.start(), _pg_operator_end(match.group(), match.start())
            operator = sql[op_start:op_end]
            index = bisect.bisect_right(starts, op_start) - 1
            unknown = len(operator) > 1 and operator not in _PG_MULTI_CHARACTER
            if unknown or (operator not in _PG_REJOINED and (index < 0 or tokens[index].end + 1 < op_end)):
                raise QueryRefused(
                    f"PostgreSQL reads {operator!r} as one operator, which can be a function of the database's own, "
                    "and the checker cannot prove it built-in. Use a built-in operator or function (or spaces, if "
                    "you meant several operators)."
                )
            position = op_end


def _pg_operator_end(run: str, start: int) -> int:
    """Where PostgreSQL's lexer ends the operator: a trailing + or - stays only after one of ~!@#^&|`?%."""
    length = len(run)
    if length > 1 and run[-1] in "+-" and not any(char in "~!@#^&|`?%" for char in run[:-1]):
        while length > 1 and run[length - 1] in "+-":
            length -= 1
    return start + length


def _disagree() -> None:
    raise QueryRefused(
        "The query's quoting or comments could be read two ways (by the checker and by the server), so it was "
        "not run; simplify the quotes and comments."
    )
