"""Who sees what: the data rules of a user's groups, compiled once per call into an immutable Access.

Within a group, the most specific rule that matches decides (a column rule over a table rule over a
schema rule; an exact name over a wildcard; on a tie, hide over mask over allow), and what no rule of
a group's allows or masks, that group hides. A user's rights are the union of their groups': a column
is visible if any group allows it, masked if the best any group offers is a mask. A user in no group
with rules gets DATA_POLICY_DEFAULT (allow_all or deny_all); superusers are bound like anyone else
unless DATA_POLICY_SUPERUSER_EXEMPT is on. Row filters: a table some group grants without a filter is
unfiltered; otherwise the user sees the rows any of their granting groups' filters admit.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections

from sqltools.conf import sqltools_settings
from sqltools.errors import QueryRefused
from sqltools.vendors import vendor_for

ALLOW, MASK, HIDE, WRITE = "allow", "mask", "hide", "write"
_RANK = {HIDE: 1, MASK: 2, ALLOW: 3, WRITE: 3}  # write: allowed to read, and on a table, to change


@dataclass(frozen=True)
class Rule:
    parts: tuple[str, ...]  # lowercase (schema, table) or (schema, table, column); '*' and globs allowed
    effect: str
    mask: str = "full"
    keep_last: int = 4

    @property
    def specificity(self) -> tuple[int, int, int]:
        exact = sum(1 for part in self.parts if not any(c in part for c in "*?["))
        return len(self.parts), exact, -_RANK[self.effect]  # ties: hide first

    def matches(self, names: tuple[str, ...]) -> bool:
        return len(names) >= len(self.parts) and all(
            fnmatch.fnmatchcase(name, part) for name, part in zip(names, self.parts))


@dataclass(frozen=True)
class GroupPolicy:
    name: str
    rules: tuple[Rule, ...]
    filters: tuple[tuple[Rule, str], ...]  # (table pattern, predicate)

    def column(self, schema: str, table: str, column: str) -> Rule | None:
        names = (schema.lower(), table.lower(), column.lower())
        found = [rule for rule in self.rules if rule.matches(names)]
        return max(found, key=lambda rule: rule.specificity, default=None)

    def grants_table(self, schema: str, table: str) -> bool:
        """Whether this group lets the user see the table at all (some column of it, at least)."""
        names = (schema.lower(), table.lower())
        table_rules = [rule for rule in self.rules if len(rule.parts) == 2 and rule.matches(names)]
        best = max(table_rules, key=lambda rule: rule.specificity, default=None)
        if best is not None and best.effect != HIDE:
            return True
        return any(len(rule.parts) == 3 and rule.effect != HIDE and Rule(rule.parts[:2], ALLOW).matches(names)
                   for rule in self.rules)

    def grants_write(self, schema: str, table: str) -> bool:
        """Whether the most specific table rule of this group that matches is a write rule."""
        names = (schema.lower(), table.lower())
        table_rules = [rule for rule in self.rules if len(rule.parts) == 2 and rule.matches(names)]
        best = max(table_rules, key=lambda rule: rule.specificity, default=None)
        return best is not None and best.effect == WRITE


@dataclass(frozen=True)
class Access:
    """The caller, resolved once per call: who, through which client, and what data they may see."""

    user_id: int | None = None
    username: str = ""
    client: str = ""
    client_id: str = ""  # the OAuth client's id: what an approval binds (sqltools.approvals)
    # The cost guard of each of the user's groups that sets one: (max rows, max cost, over-limit), None for "the
    # server's" (sqltools.approvals.limits_for combines them).
    cost_limits: tuple[tuple[int | None, float | None, str], ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    groups: tuple[GroupPolicy, ...] = ()
    restricted: bool = False  # False: every table and column the login can read
    denied: bool = False  # deny_all and no group with rules: nothing at all

    @property
    def fingerprint(self) -> tuple:
        """Everything a statement's rewrite depends on (remembered rewrites are keyed by it)."""
        return self.groups, tuple(sorted(self.attributes.items())), self.restricted, self.denied

    def table_visible(self, schema: str, table: str) -> bool:
        if not self.restricted:
            return True
        return any(group.grants_table(schema, table) for group in self.groups)

    def table_writable(self, schema: str, table: str) -> bool:
        """Whether some group of the caller's has a write rule on the table (always, without a policy)."""
        return not self.restricted or any(group.grants_write(schema, table) for group in self.groups)

    def column_rule(self, schema: str, table: str, column: str) -> Rule | None:
        """The winning rule for a column: None when hidden (or the table is), an allow or mask rule otherwise."""
        if not self.restricted:
            return _ALLOW_ALL
        best: Rule | None = None
        for group in self.groups:
            if not group.grants_table(schema, table):
                continue
            rule = group.column(schema, table, column)
            if rule is not None and rule.effect != HIDE and (best is None or _RANK[rule.effect] > _RANK[best.effect]):
                best = rule
        return best

    def row_filters(self, schema: str, table: str) -> list[str] | None:
        """None: every row; else the predicates of which a row must meet one."""
        if not self.restricted:
            return None
        predicates = []
        for group in self.groups:
            if group.grants_table(schema, table):
                names = (schema.lower(), table.lower())
                matching = [predicate for pattern, predicate in group.filters if pattern.matches(names)]
                if not matching:
                    return None
                predicates.extend(matching)
        return predicates


_ALLOW_ALL = Rule(("*", "*", "*"), ALLOW)
UNRESTRICTED = Access()
_current: ContextVar[Access] = ContextVar("sqltools_access", default=UNRESTRICTED)


def current_access() -> Access:
    """The caller of the tool call this thread is running (UNRESTRICTED outside one)."""
    return _current.get()


@contextmanager
def access_scope(access: Access) -> Iterator[Access]:
    """Run sqltools work as `access`: listing, describing, sampling, search, fetch and SQL all honour it."""
    token = _current.set(access)
    try:
        yield access
    finally:
        _current.reset(token)


_MEMO_SECONDS = 5.0  # another process's policy edit reaches this one within this; this process's at once
_memo: dict[tuple[int, str], tuple[float, Access]] = {}


def access_for_user_id(*, user_id: int | None, client: str = "", client_id: str = "") -> Access:
    """access_for of a user by id, remembered briefly (every tool call asks)."""
    if user_id is None:
        return UNRESTRICTED if sqltools_settings().DATA_POLICY_DEFAULT != "deny_all" else Access(restricted=True,
                                                                                                   denied=True)
    remembered = _memo.get((user_id, client, client_id))
    if remembered is not None and time.monotonic() - remembered[0] < _MEMO_SECONDS:
        return remembered[1]
    user = get_user_model().objects.filter(pk=user_id).first()
    access = Access(restricted=True, denied=True) if user is None else access_for(user=user, client=client,
                                                                                   client_id=client_id)
    if len(_memo) > 10_000:
        _memo.clear()
    _memo[(user_id, client, client_id)] = (time.monotonic(), access)
    return access


def policies_changed(**kwargs: Any) -> None:
    """A rule, filter, attribute or group membership changed: forget remembered accesses (signals, in apps)."""
    _memo.clear()


def access_for(*, user: Any, client: str = "", client_id: str = "") -> Access:
    """The Access of a Django user: their groups' rules, filters and cost guards, and their attributes."""
    from sqltools.models import DataRule, GroupLimits, RowFilter, UserAttribute  # models load after the app registry

    conf = sqltools_settings()
    groups = list(user.groups.order_by("pk"))
    limits = tuple(GroupLimits.objects.filter(group__in=groups).order_by("group_id").values_list(
        "max_estimated_rows", "max_estimated_cost", "over_limit"))
    identity = {"user_id": user.pk, "username": user.get_username(), "client": client, "client_id": client_id,
                "cost_limits": limits}
    if user.is_superuser and conf.DATA_POLICY_SUPERUSER_EXEMPT:
        return Access(**identity)
    rules = _by_group(DataRule.objects.filter(group__in=groups))
    filters = _by_group(RowFilter.objects.filter(group__in=groups))
    policies = tuple(_group_policy(group, rules.get(group.pk, ()), filters.get(group.pk, ()))
                     for group in groups if group.pk in rules)
    attributes = {"id": str(user.pk), "username": user.get_username(), "email": getattr(user, "email", "") or ""}
    attributes |= dict(UserAttribute.objects.filter(user=user).values_list("name", "value"))
    if not policies:
        denied = conf.DATA_POLICY_DEFAULT == "deny_all"
        return Access(**identity, attributes=attributes, restricted=denied, denied=denied)
    return Access(**identity, attributes=attributes, groups=policies, restricted=True)


def group_policy(group: Any) -> GroupPolicy:
    """One group's compiled rules and filters (the admin's preview)."""
    return _group_policy(group, list(group.data_rules.all()), list(group.row_filters.all()))


def _group_policy(group: Any, rules: Any, filters: Any) -> GroupPolicy:
    return GroupPolicy(group.name, tuple(_rule(r) for r in rules),
                       tuple((Rule(_parts(f.table)[:2], ALLOW), f.predicate) for f in filters))


def _by_group(queryset: Any) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for row in queryset:
        grouped.setdefault(row.group_id, []).append(row)
    return grouped


def _parts(pattern: str) -> tuple[str, ...]:
    """`sales`, `sales.orders` or `sales.orders.email`, unquoted and lowercase; a schema alone means all its tables."""
    parts = tuple(part.strip().strip('"[]`').lower() for part in pattern.split("."))
    return (parts[0], "*") if len(parts) == 1 else parts[:3]


def _rule(row: Any) -> Rule:
    return Rule(_parts(row.pattern), row.effect, row.mask or "full", row.keep_last)


def masked_row(row: Any, masks: tuple[tuple[int, Rule], ...]) -> list[Any]:
    values = list(row)
    for index, rule in masks:
        values[index] = mask_value(values[index], rule)
    return values


def mask_value(value: Any, rule: Rule) -> Any:
    """The masked form of one value (None stays None, so counts of missing values still work)."""
    if value is None:
        return None
    text = str(value)
    if rule.mask == "hash":
        digest = hmac.new(_mask_key(), text.encode(), hashlib.sha256).hexdigest()
        return f"h:{digest[:16]}"
    if rule.mask == "partial":
        keep = min(rule.keep_last, max(0, len(text) - 1))
        return "*" * (len(text) - keep) + (text[-keep:] if keep else "")
    if rule.mask == "email" and "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    return "****"


def _mask_key() -> bytes:
    return hashlib.sha256(b"sqltools.mask:" + settings.SECRET_KEY.encode()).digest()


def row_filter_check(predicate: str, *, alias: str | None = None) -> str | None:
    """Why `predicate` cannot be a row filter on the target (it must be a condition the read-only guard admits)."""
    from sqltools.policy import statement_policy  # the policy imports this module for Access

    dialect = vendor_for(connections[alias or sqltools_settings().ALIAS]).dialect
    sample = re.sub(r":user\.[A-Za-z_][A-Za-z0-9_]*", "'x'", predicate)
    try:
        statement_policy(sql=f"SELECT 1 AS probe FROM row_filter_probe WHERE ({sample})", dialect=dialect)
    except QueryRefused as error:
        return f"The condition is not a read the guard admits: {error}"
    return None
