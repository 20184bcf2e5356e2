"""A person approves before a write or an expensive read runs.

What needs approval: every write when WRITE_APPROVAL=required, and a read whose estimated plan passes the
cost guard (MAX_ESTIMATED_ROWS / MAX_ESTIMATED_COST, server-wide or per group) when OVER_LIMIT=approve
(OVER_LIMIT=refuse refuses it instead). An approval binds the user, the OAuth client (its client_id), the
exact statement (its SHA-256) and the target database (sqltools.target.target_identity, not only its alias);
it expires (APPROVAL_TTL_SECONDS) and is used once:
the statement runs after an UPDATE that moves it from approved to used, which only one call can win.
Deciding is for the user who asked, on the approval page (oauth_ext.approval_page); both decisions are audited.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from django.utils import timezone

from sqltools.audit import Actor, audit_event
from sqltools.conf import sqltools_settings
from sqltools.errors import ApprovalInvalid, ApprovalRequired, QueryRefused, SqlToolError
from sqltools.governance import Access
from sqltools.plans import Plan
from sqltools.readonly import Kind
from sqltools.target import database_label, target_identity


@dataclass(frozen=True)
class Limits:
    rows: float = 0
    cost: float = 0
    over_limit: str = "approve"

    def exceeded(self, plan: Plan) -> str | None:
        """Why `plan` is over these limits, in words, or None (an estimate the database does not give is not over)."""
        peak = plan.peak_rows
        if self.rows and peak is not None and peak > self.rows:
            step = "" if peak == plan.rows else " at its largest step"
            return f"about {peak:,.0f} rows{step}, over the limit of {self.rows:,.0f} (MAX_ESTIMATED_ROWS)"
        if self.cost and plan.cost is not None and plan.cost > self.cost:
            return f"a cost of {plan.cost:,.2f}, over the limit of {self.cost:,.2f} (MAX_ESTIMATED_COST)"
        return None


def statement_hash(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def estimate_words(plan: Plan | None) -> str:
    if plan is None or (plan.rows is None and plan.cost is None):
        return "the database gives no estimate for it"
    parts = [f"about {plan.rows:,.0f} rows" if plan.rows is not None else "",
             f"cost {plan.cost:,.2f}" if plan.cost is not None else ""]
    scans = f"; full scans of {', '.join(plan.scans)}" if plan.scans else ""
    return "estimated " + ", ".join(p for p in parts if p) + scans


def approval_gate(*, sql: str, checked: Any, dialect: str, alias: str, access: Access,
                  estimate: Callable[[], Plan]) -> None:
    """Return when the statement may run now; raise QueryRefused (over a refusing cost guard, or no user to ask)
    or ApprovalRequired (a pending approval, made or found). A statement approved for this user, client and
    target is let through once (its approval is used up here)."""
    conf = sqltools_settings()
    if checked.kind is not Kind.READ:
        if conf.WRITE_APPROVAL == "off":  # anything else (a typo too) asks: sqltools.E004 names the mistake
            return
        # A write's plan is for the approval page only: made when a new approval is, not on its approved retry.
        reason, plan, over = "write", None, None
    else:
        limits = limits_for(access=access)
        if not (limits.rows or limits.cost):
            return
        plan = estimate()
        over = limits.exceeded(plan)
        if over is None:
            return
        if limits.over_limit == "refuse":  # anything else waits for a click, which runs nothing either
            raise QueryRefused(
                f"This query was not run: its plan estimates {over}, so the server refuses it "
                "(OVER_LIMIT=refuse). Add a WHERE clause on an indexed column, aggregate, or select "
                "fewer rows; explain_sql shows the plan.",
                rule="cost guard",
            )
        reason = "cost"
    if access.user_id is None:
        raise QueryRefused("This statement needs a person's approval, and this call has no signed-in user to give it.")
    if approval_use(user_id=access.user_id, client_id=access.client_id, alias=alias, sql=sql):
        return
    approval = approval_request(
        user_id=access.user_id,
        client_id=access.client_id,
        client_name=access.client,
        alias=alias,
        sql=sql,
        reason=reason,
        plan=plan,
        estimate=(lambda: _quietly(estimate)) if plan is None else None,
        tables=_tables(checked.sql, dialect),
    )
    why = (
        "the server requires a person to approve every change to the data (WRITE_APPROVAL=required)"
        if reason == "write"
        else f"its plan estimates {over}"
    )
    raise ApprovalRequired(
        f"This statement was not run: it needs the user's approval first, because {why}.",
        approval=approval,
        username=access.username,
    )


def _quietly(estimate: Callable[[], Plan]) -> Plan | None:
    """A write's estimate is for the approval page only: a database that cannot plan it still asks."""
    try:
        return estimate()
    except SqlToolError:
        return None


def _tables(sql: str, dialect: str) -> list[str]:
    """The tables a statement names, for the approval page."""
    from sqlglot import exp, parse_one

    try:
        tree = parse_one(sql, dialect=dialect)
    except Exception:
        return []
    tables = [t for t in tree.find_all(exp.Table) if t.name]
    aliases = {t.alias for t in tables if t.alias}  # `DELETE c FROM customers c`: c names customers, not a table
    return sorted({".".join(p for p in (t.db, t.name) if p) for t in tables if t.db or t.name not in aliases})


def approval_use(*, user_id: int, client_id: str, alias: str, sql: str) -> bool:
    """Use up one approved, unexpired approval of this statement by this user, client and target, if there is one.

    The UPDATE's condition on the status makes it race-safe: of two calls holding the same approval, one
    changes the row and runs the statement, the other changes nothing and asks again."""
    from sqltools.models import Approval

    now = timezone.now()
    candidates = Approval.objects.filter(
        user_id=user_id,
        client_id=client_id,
        alias=alias,
        target=target_identity(alias),
        sql_hash=statement_hash(sql),
        status=Approval.Status.APPROVED,
        expires_at__gt=now,
    )
    for pk, text in candidates.values_list("pk", "sql")[:5]:
        if text == sql and Approval.objects.filter(pk=pk, status=Approval.Status.APPROVED, expires_at__gt=now).update(
            status=Approval.Status.USED, used_at=now
        ):
            return True
    return False


def approval_request(
    *,
    user_id: int,
    client_id: str,
    client_name: str,
    alias: str,
    sql: str,
    reason: str,
    plan: Plan | None,
    tables: list[str],
    estimate: Callable[[], Plan | None] | None = None,
) -> Any:
    """The pending approval of this statement for this user, client and target: the one still open, or a new one
    (with `plan`, or the plan `estimate` makes then)."""
    from sqltools.models import Approval

    now = timezone.now()
    digest = statement_hash(sql)
    target = target_identity(alias)
    for pending in Approval.objects.filter(
        user_id=user_id,
        client_id=client_id,
        alias=alias,
        target=target,
        sql_hash=digest,
        status=Approval.Status.PENDING,
        expires_at__gt=now,
    ):
        if pending.sql == sql:
            return pending
    if plan is None and estimate is not None:
        plan = estimate()
    estimate = (
        {"rows": plan.rows, "cost": plan.cost, "scans": plan.scans, "words": estimate_words(plan)}
        if plan is not None
        else {"words": estimate_words(None)}
    )
    return Approval.objects.create(
        user_id=user_id,
        client_id=client_id,
        client_name=client_name,
        alias=alias,
        target=target,
        database=database_label(alias),
        sql=sql,
        sql_hash=digest,
        reason=reason,
        estimate=estimate,
        tables=tables,
        expires_at=now + timedelta(seconds=sqltools_settings().APPROVAL_TTL_SECONDS),
    )


def approval_for_user(*, approval_id: str, user: Any) -> Any:
    """The approval behind a link, for the user who asked for it; ApprovalInvalid otherwise."""
    from sqltools.models import Approval

    try:
        approval = Approval.objects.filter(pk=uuid.UUID(str(approval_id))).first()
    except ValueError:
        approval = None
    if approval is None:
        raise ApprovalInvalid("There is no approval at this link. Ask the assistant to run the statement again "
                              "for a new one.", status=404)
    if approval.user_id != user.pk:
        raise ApprovalInvalid("This approval was asked for by another user: only they can approve or decline it.",
                              status=403)
    return approval


def approval_decide(*, approval_id: str, user: Any, approve: bool) -> Any:
    """Approve or decline a pending, unexpired approval of the user's own; audited with who and when."""
    from sqltools.models import Approval

    approval = approval_for_user(approval_id=approval_id, user=user)
    problem = approval_problem(approval)
    if problem:
        raise ApprovalInvalid(problem, status=409)
    now = timezone.now()
    status = Approval.Status.APPROVED if approve else Approval.Status.DECLINED
    if not Approval.objects.filter(pk=approval.pk, status=Approval.Status.PENDING, expires_at__gt=now).update(
            status=status, decided_at=now):
        raise ApprovalInvalid("This approval was decided or expired meanwhile; reload the page.", status=409)
    approval.status, approval.decided_at = status, now
    verb = "Approved" if approve else "Declined"
    audit_event(tool="approval", actor=Actor(user_id=user.pk, username=user.get_username(),
                                             client_id=approval.client_id, client_name=approval.client_name),
                sql=approval.sql, arguments={"approval": str(approval.pk), "reason": approval.reason,
                                             "target": approval.alias},
                outcome=status, message=f"{verb} by {user.get_username()} at {now.isoformat()}")
    return approval


def approval_problem(approval: Any) -> str | None:
    """Why an approval can no longer be decided, in words, or None while it can."""
    from sqltools.models import Approval

    if approval.status == Approval.Status.APPROVED:
        return "You already approved this statement; ask the assistant to run it again and it runs once."
    if approval.status == Approval.Status.USED:
        return "This approval was already used: the statement ran once. An approval runs its statement only once."
    if approval.status == Approval.Status.DECLINED:
        return "You declined this statement; it will not run. Ask the assistant again for a new approval."
    if approval.expires_at <= timezone.now():
        return "This approval expired; ask the assistant to run the statement again for a new link."
    return None


def approval_status(*, approval_id: Any) -> str | None:
    from sqltools.models import Approval

    return Approval.objects.filter(pk=approval_id).values_list("status", flat=True).first()


def limits_for(*, access: Access) -> Limits:
    """The cost guard of a caller: their groups' limits where a group sets one (the most generous of their
    groups, as rights are the union of a user's groups'), else the server's."""
    conf = sqltools_settings()
    rows, cost, over = float(conf.MAX_ESTIMATED_ROWS), float(conf.MAX_ESTIMATED_COST), conf.OVER_LIMIT
    if access.cost_limits:
        rows = _most_generous([group_rows for group_rows, _, _ in access.cost_limits], rows)
        cost = _most_generous([group_cost for _, group_cost, _ in access.cost_limits], cost)
        overs = {group_over or over for _, _, group_over in access.cost_limits}
        over = "refuse" if overs == {"refuse"} else "approve"
    return Limits(rows, cost, over)


def _most_generous(values: list[Any], default: float) -> float:
    """0 is no limit; a group that sets none takes the server's."""
    chosen = [default if value is None else float(value) for value in values]
    return 0.0 if 0.0 in chosen else max(chosen)
