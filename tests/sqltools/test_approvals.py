"""Approvals: a write (or a read over the cost guard) runs only after its user's click, once, before the link
expires."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta
from typing import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connections
from django.utils import timezone

from sqltools.approvals import approval_decide, approval_use, limits_for, statement_hash
from sqltools.errors import ApprovalInvalid, ApprovalRequired, QueryRefused
from sqltools.governance import Access, access_for_user_id
from sqltools.models import Approval, AuditEntry, GroupLimits
from sqltools.query import query_run
from tests.services import require
from tests.sqltools.test_explain import JOIN, checksum
from tests.targets import statements_sent, target_params

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

UPDATE = "UPDATE orders SET status = 'held' WHERE order_id = 7"
# The servers whose plans estimate rows (SQLite's never over the guard: tests/sqltools/test_explain.py).
ESTIMATING = target_params("target_pg", "target_mysql")


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="pw")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="pw")


@pytest.fixture
def writes_need_approval(sqltools_config):
    sqltools_config(READ_ONLY=False, WRITE_APPROVAL="required")


def run(sql: str, alias: str, user, client_id: str = "client-1"):
    access = Access(user_id=user.pk, username=user.get_username(), client="Claude", client_id=client_id)
    return query_run(sql=sql, alias=alias, allow_write=True, access=access)


def asked(sql: str, alias: str, user, client_id: str = "client-1") -> Approval:
    with pytest.raises(ApprovalRequired) as raised:
        run(sql, alias, user, client_id)
    return raised.value.approval


@contextlib.contextmanager
def explains(alias: str) -> Iterator[list[str]]:
    """The EXPLAINs sent to the target within the block."""
    with statements_sent(alias) as sent:
        explained: list[str] = []
        yield explained
    explained += [sql for sql in sent if "EXPLAIN" in sql.upper()]


def test_a_write_runs_only_after_the_click_and_only_once(target_alias, writes_need_approval, alice):
    before = checksum(target_alias)
    with explains(target_alias) as first:
        approval = asked(UPDATE, target_alias, alice)
    assert first  # the page shows the write's estimate
    assert checksum(target_alias) == before  # nothing ran before approval
    assert (approval.reason, approval.status, approval.tables, approval.sql_hash) == (
        "write", "pending", ["orders"], statement_hash(UPDATE))
    with explains(target_alias) as again:
        assert asked(UPDATE, target_alias, alice).pk == approval.pk  # asking again shows the same link
    assert checksum(target_alias) == before
    approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    assert checksum(target_alias) == before  # approving runs nothing by itself
    with explains(target_alias) as approved:
        assert run(UPDATE, target_alias, alice).rows_affected == 1
    assert again == approved == []  # the estimate is made once, for a new approval only
    after = checksum(target_alias)
    assert after != before and Approval.objects.get(pk=approval.pk).status == "used"
    again = asked(UPDATE, target_alias, alice)  # single use: the next run asks again
    assert again.pk != approval.pk and checksum(target_alias) == after


def test_an_approval_binds_the_client_the_statement_and_the_target(target_alias, writes_need_approval, alice):
    approval = asked(UPDATE, target_alias, alice)
    approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    before = checksum(target_alias)
    asked(UPDATE, target_alias, alice, client_id="another-client")  # another client: asks anew
    asked(UPDATE + " ", target_alias, alice)  # another text, even by a space
    other = "target" if target_alias != "target" else "target_pg"
    if other in settings.DATABASES:
        asked(UPDATE, other, alice)  # another target
    assert checksum(target_alias) == before
    assert run(UPDATE, target_alias, alice).rows_affected == 1


def test_reads_need_no_approval_by_default(target_alias, writes_need_approval, alice):
    assert run("SELECT COUNT(*) FROM orders", target_alias, alice).rows


def test_a_write_is_refused_in_read_only_mode_even_when_approved(target_alias, sqltools_config, alice):
    sqltools_config(READ_ONLY=False, WRITE_APPROVAL="required")
    approval = asked(UPDATE, target_alias, alice)
    approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    sqltools_config(READ_ONLY=True)
    before = checksum(target_alias)
    with pytest.raises(QueryRefused, match="read-only mode"):
        run(UPDATE, target_alias, alice)
    assert checksum(target_alias) == before and Approval.objects.get(pk=approval.pk).status == "approved"


def test_a_misspelt_write_approval_setting_still_asks(target_alias, sqltools_config, alice):
    sqltools_config(READ_ONLY=False, WRITE_APPROVAL="requried")  # sqltools.E004 names the typo; meanwhile: asks
    before = checksum(target_alias)
    asked(UPDATE, target_alias, alice)
    assert checksum(target_alias) == before


def test_no_signed_in_user_no_write(target_alias, writes_need_approval):
    with pytest.raises(QueryRefused, match="no signed-in user"):
        query_run(sql=UPDATE, alias=target_alias, allow_write=True)


def test_bad_decisions_get_clear_errors(writes_need_approval, alice, bob):
    approval = asked(UPDATE, "target", alice)
    with pytest.raises(ApprovalInvalid, match="another user") as other:
        approval_decide(approval_id=str(approval.pk), user=bob, approve=True)
    assert other.value.status == 403
    for unknown in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        with pytest.raises(ApprovalInvalid, match="no approval") as missing:
            approval_decide(approval_id=unknown, user=alice, approve=True)
        assert missing.value.status == 404
    approval_decide(approval_id=str(approval.pk), user=alice, approve=False)
    with pytest.raises(ApprovalInvalid, match="declined"):
        approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    with pytest.raises(ApprovalRequired):  # declined: the statement still does not run
        run(UPDATE, "target", alice)
    fresh = asked("UPDATE orders SET status = 'x' WHERE order_id = 8", "target", alice)
    approval_decide(approval_id=str(fresh.pk), user=alice, approve=True)
    with pytest.raises(ApprovalInvalid, match="already approved"):  # a replayed click
        approval_decide(approval_id=str(fresh.pk), user=alice, approve=True)
    run("UPDATE orders SET status = 'x' WHERE order_id = 8", "target", alice)
    with pytest.raises(ApprovalInvalid, match="already used"):
        approval_decide(approval_id=str(fresh.pk), user=alice, approve=True)


def test_an_expired_approval_neither_decides_nor_runs(writes_need_approval, alice):
    approval = asked(UPDATE, "target", alice)
    Approval.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ApprovalInvalid, match="expired"):
        approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    approved = asked(UPDATE, "target", alice)
    assert approved.pk != approval.pk
    approval_decide(approval_id=str(approved.pk), user=alice, approve=True)
    Approval.objects.filter(pk=approved.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = checksum("target")
    with pytest.raises(ApprovalRequired):
        run(UPDATE, "target", alice)
    assert checksum("target") == before


def test_decisions_are_audited_with_who_and_when(writes_need_approval, alice):
    approval = asked(UPDATE, "target", alice)
    approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    declined = asked("DELETE FROM order_lines WHERE order_line_id = 1", "target", alice)
    approval_decide(approval_id=str(declined.pk), user=alice, approve=False)
    entries = list(AuditEntry.objects.filter(tool="approval").order_by("created_at"))
    assert [(e.outcome, e.username, e.client_id, e.sql) for e in entries] == [
        ("approved", "alice", "client-1", UPDATE),
        ("declined", "alice", "client-1", declined.sql),
    ]
    assert entries[0].message.startswith("Approved by alice at ") and entries[0].arguments["approval"] == str(
        approval.pk
    )


def test_an_approval_binds_the_database_not_only_its_alias(writes_need_approval, alice, monkeypatch):
    """Two deployments sharing Django's database, or TARGET_DATABASE_URL changed within the TTL: the alias is the
    same, the database is not, and a click for one must not run the statement on the other."""

    approval = asked(UPDATE, "target", alice)
    assert approval.database and approval.target.startswith("sqlite3:")
    approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    monkeypatch.setitem(connections.settings["target"], "NAME", "/srv/another-deployment/sales.sqlite3")
    assert approval_use(user_id=alice.pk, client_id="client-1", alias="target", sql=UPDATE) is False
    monkeypatch.undo()
    assert approval_use(user_id=alice.pk, client_id="client-1", alias="target", sql=UPDATE) is True


def test_using_an_approval_is_race_safe(writes_need_approval, alice):
    approval = asked(UPDATE, "target", alice)
    approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def use() -> None:
        from django.db import OperationalError, connections

        barrier.wait()
        try:
            for _ in range(200):  # the tests' in-memory SQLite (shared cache) answers "table is locked", not waits
                try:
                    results.append(approval_use(user_id=alice.pk, client_id="client-1", alias="target", sql=UPDATE))
                    return
                except OperationalError as error:
                    if "locked" not in str(error):
                        raise
                    time.sleep(0.01)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


@pytest.mark.parametrize("target_alias", ESTIMATING, indirect=True)
def test_a_read_over_the_cost_guard_waits_for_approval_with_its_estimate(target_alias, sqltools_config, alice):
    sqltools_config(MAX_ESTIMATED_ROWS=1, OVER_LIMIT="approve")
    approval = asked(JOIN, target_alias, alice)
    assert approval.reason == "cost" and approval.estimate["rows"] > 1 and "rows" in approval.estimate["words"]
    approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    assert run(JOIN, target_alias, alice).columns == ["name", "status"]
    sqltools_config(MAX_ESTIMATED_ROWS=1, OVER_LIMIT="refuse")
    with pytest.raises(QueryRefused, match=r"estimates about [\d,]+ rows( at its largest step)?, over the limit of 1"):
        run(JOIN, target_alias, alice)


@pytest.mark.parametrize("target_alias", ESTIMATING, indirect=True)
def test_the_rows_guard_counts_the_largest_step_not_only_the_rows_returned(target_alias, sqltools_config, alice):
    """One row out of billions made: an aggregate over a cross join is as heavy as the join (attack finding F2)."""
    sqltools_config(MAX_ESTIMATED_ROWS=5000, OVER_LIMIT="refuse")
    heavy = "SELECT count(*) FROM order_lines a CROSS JOIN order_lines b"
    with pytest.raises(QueryRefused, match=r"about [\d,]+ rows( at its largest step)?, over the limit of 5,000"):
        run(heavy, target_alias, alice)
    assert run("SELECT count(*) FROM customers", target_alias, alice).row_count == 1


def test_group_limits_override_the_server_and_the_most_generous_group_wins(sqltools_config, alice):
    def limits():
        return limits_for(access=access_for_user_id(user_id=alice.pk, client="Claude"))

    sqltools_config(MAX_ESTIMATED_ROWS=100, OVER_LIMIT="refuse")
    assert limits().rows == 100
    small, large = Group.objects.create(name="small"), Group.objects.create(name="large")
    GroupLimits.objects.create(group=small, max_estimated_rows=10, over_limit="refuse")
    alice.groups.add(small)  # a membership change is seen at once (the remembered access is forgotten)
    assert (limits().rows, limits().over_limit) == (10, "refuse")
    GroupLimits.objects.create(group=large, max_estimated_rows=10_000, max_estimated_cost=5.5, over_limit="approve")
    alice.groups.add(large)
    # "small" sets no cost limit and the server has none: no cost limit
    assert (limits().rows, limits().cost, limits().over_limit) == (10_000, 0, "approve")
    small_limits = GroupLimits.objects.get(group=small)
    small_limits.max_estimated_cost = 2.0
    small_limits.save()  # an edit in the admin is seen at once too
    assert limits().cost == 5.5


def test_a_group_over_its_limit_waits_for_approval_through_the_callers_access(sqltools_config, alice):
    require("postgresql")  # its estimates; fails in CI if it is missing
    group = Group.objects.create(name="careful")
    GroupLimits.objects.create(group=group, max_estimated_rows=1, over_limit="approve")
    alice.groups.add(group)
    access = access_for_user_id(user_id=alice.pk, client="Claude", client_id="client-1")
    with pytest.raises(ApprovalRequired):
        query_run(sql=JOIN, alias="target_pg", access=access)


def test_the_page_lists_the_tables_a_statement_touches_not_their_aliases():
    from sqltools.approvals import _tables

    assert _tables("DELETE c, a FROM customers c JOIN audit_log a ON a.id = c.id WHERE c.id = 1", "mysql") == [
        "audit_log", "customers"]


@pytest.mark.parametrize("target_alias", target_params("target_pg"), indirect=True)
def test_a_database_named_in_the_driver_options_is_another_database(target_alias, writes_need_approval, alice,
                                                                     monkeypatch):
    """`postgres://…/sales?dbname=other` connects to other: the approval for sales must not run there (round 2)."""

    approval = asked(UPDATE, target_alias, alice)
    approval_decide(approval_id=str(approval.pk), user=alice, approve=True)
    options = {**connections.settings[target_alias].get("OPTIONS", {}), "dbname": "other"}
    monkeypatch.setitem(connections.settings[target_alias], "OPTIONS", options)
    assert approval_use(user_id=alice.pk, client_id="client-1", alias=target_alias, sql=UPDATE) is False
    monkeypatch.undo()
    assert approval_use(user_id=alice.pk, client_id="client-1", alias=target_alias, sql=UPDATE) is True
