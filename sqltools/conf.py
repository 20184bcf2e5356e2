"""sqltools' settings, read through one object from settings.SQLTOOLS."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed


@dataclass(frozen=True)
class SqlToolsSettings:
    ALIAS: str = "target"
    READ_ONLY: bool = True
    ALLOW_DDL: bool = False
    MAX_ROWS: int = 1000
    MAX_SAMPLE_ROWS: int = 100
    MAX_RESULT_CHARS: int = 100_000
    # The largest value (PostgreSQL: row) one query may hand the worker; bounds its memory per call.
    MAX_VALUE_BYTES: int = 16 * 1024 * 1024
    QUERY_TIMEOUT_SECONDS: float = 30
    MAX_SEARCH_RESULTS: int = 50
    CACHE_TTL_SECONDS: int = 3600
    AUDIT: bool = True
    MAX_QUERY_CHARS: int = 65_536
    READ_ONLY_EXTRA_FUNCTIONS: tuple[str, ...] = ()
    READ_ONLY_EXTRA_RELATIONS: tuple[str, ...] = ()
    REQUIRE_READ_ONLY_LOGIN: bool = False
    ALLOW_UNFILTERED_WRITES: bool = False
    MAX_AFFECTED_ROWS: int = 1000
    DATA_POLICY_DEFAULT: str = "allow_all"
    DATA_POLICY_SUPERUSER_EXEMPT: bool = False
    # Approvals (sqltools.approvals): "required" puts a person's click before every write; "off" does not.
    WRITE_APPROVAL: str = "off"
    # The cost guard: a read whose estimate passes either limit (0: no limit) needs approval or is refused.
    MAX_ESTIMATED_ROWS: int = 0
    MAX_ESTIMATED_COST: float = 0
    OVER_LIMIT: str = "approve"  # "approve" or "refuse"
    APPROVAL_TTL_SECONDS: int = 600
    # Statement tags (sqltools.tags): a SQLCommenter comment first in every statement; the user's name only if allowed.
    COMMENT_TAGS: bool = True
    COMMENT_USER_NAMES: bool = False


@lru_cache(maxsize=1)
def sqltools_settings() -> SqlToolsSettings:
    known = {f.name for f in fields(SqlToolsSettings)}
    return SqlToolsSettings(**{k: v for k, v in getattr(settings, "SQLTOOLS", {}).items() if k in known})


def _reset(*, setting: str, **kwargs: object) -> None:
    if setting == "SQLTOOLS":
        sqltools_settings.cache_clear()


setting_changed.connect(_reset)
