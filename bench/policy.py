"""The data-policy scenarios: a caller under a policy, and the statement policy's cost measured in-process.

`POLICY_SETUP` (run in the product's Django, `manage.py shell`) puts a user in a group whose data policy
allows three tables, masks one column and filters one table's rows. `python -m bench.policy` (same
environment) times guard + policy + rewrite (`sqltools.policy.statement_policy`) of a three-table join for
that caller: a statement seen before (remembered) and a new one each time (a literal that changes).
"""

from __future__ import annotations

import json
import statistics
import sys
import time

POLICY_SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from sqltools.models import DataRule, RowFilter
group, _ = Group.objects.get_or_create(name="bench-analysts")
for pattern, effect, mask in (("main.orders", "allow", ""), ("main.order_lines", "allow", ""),
                              ("main.customers", "allow", ""), ("main.customers.email", "mask", "partial")):
    DataRule.objects.get_or_create(group=group, pattern=pattern, defaults=dict(effect=effect, mask=mask))
RowFilter.objects.get_or_create(group=group, table="main.orders", defaults=dict(predicate="status <> 'cancelled'"))
get_user_model().objects.get_or_create(username={username!r})[0].groups.add(group)
"""

JOIN = ("SELECT c.name, c.email, o.order_id, o.status, l.quantity, l.unit_price FROM customers c "
        "JOIN orders o ON o.customer_id = c.customer_id JOIN order_lines l ON l.order_id = o.order_id "
        "WHERE l.quantity > {n}")


def policy_timings(*, username: str, calls: int = 200) -> dict:
    """Median ms of statement_policy for the join: remembered, and new each call; CPU per call too."""
    from django.contrib.auth import get_user_model

    from sqltools.governance import access_for
    from sqltools.policy import catalog_view, statement_policy
    from sqltools.query import target

    connection, vendor = target()
    access = access_for(user=get_user_model().objects.get(username=username))
    assert access.restricted, "the bench user has no data policy"
    catalog = catalog_view(connection, vendor)

    def one(sql: str) -> float:
        started = time.perf_counter()
        checked = statement_policy(sql=sql, dialect=vendor.dialect, access=access, catalog=catalog)
        elapsed = time.perf_counter() - started
        assert "cancelled" in checked.sql and checked.masks, "the rewrite lost the row filter or the mask"
        return elapsed

    one(JOIN.format(n=0))  # the catalog view and the parser warm
    results = {}
    for label, numbered in (("seen_before", False), ("new", True)):
        walls, cpu = [], time.process_time()
        for n in range(1, calls + 1):
            walls.append(one(JOIN.format(n=n + 10_000 if numbered else 0)))
        results[label] = {"p50_ms": round(statistics.median(walls) * 1000, 3),
                          "p95_ms": round(sorted(walls)[int(0.95 * (len(walls) - 1))] * 1000, 3),
                          "cpu_ms_per_call": round((time.process_time() - cpu) / calls * 1000, 3), "calls": calls}
    return {"sql": JOIN.format(n="<n>"), **results}


def main() -> None:
    import django

    django.setup()
    username, calls = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
    print(json.dumps(policy_timings(username=username, calls=calls)))


if __name__ == "__main__":
    main()
