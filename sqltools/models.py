"""The audit log (one row per tool call) and the data policies, in Django's own database."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from sqltools.errors import outcome_choices


class AuditEntry(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    client_id = models.CharField(max_length=255, blank=True, db_index=True)
    client_name = models.CharField(max_length=255, blank=True)
    tool = models.CharField(max_length=64, db_index=True)
    arguments = models.JSONField(default=dict, blank=True, help_text="Tool arguments other than the SQL text.")
    sql = models.TextField(blank=True)
    outcome = models.CharField(max_length=32, choices=outcome_choices(), db_index=True)
    message = models.TextField(blank=True)
    rule = models.CharField(max_length=255, blank=True, db_index=True, help_text="The data-policy rule that refused.")
    rows = models.IntegerField(null=True, blank=True)
    duration_ms = models.FloatField()
    audit_id = models.CharField(max_length=32, blank=True, default="", db_index=True, help_text=(
        "The call's id, also in the tag that starts each of its statements on the target (audit_id='…')."))

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.tool} {self.outcome}"


class DataRule(models.Model):
    """What one group may see of the target: an allow, hide or mask rule on a schema, table or column pattern."""

    class Effect(models.TextChoices):
        ALLOW = "allow", "allow"
        WRITE = "write", "allow and, on a table, change (with sql:write, where the server allows writes)"
        MASK = "mask", "mask"
        HIDE = "hide", "hide"

    class Mask(models.TextChoices):
        FULL = "full", "full (****)"
        PARTIAL = "partial", "partial (keep the last characters)"
        EMAIL = "email", "e-mail (a***@example.com)"
        HASH = "hash", "stable keyed hash (joins and counts still work)"

    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="data_rules")
    pattern = models.CharField(
        max_length=255,
        help_text="schema.table or schema.table.column; * stands for any name: sales.*, dbo.customers.email, *.*.ssn",
    )
    effect = models.CharField(max_length=8, choices=Effect.choices, default=Effect.ALLOW)
    mask = models.CharField(max_length=8, choices=Mask.choices, blank=True, help_text="For the mask effect.")
    keep_last = models.PositiveSmallIntegerField(default=4, help_text="Characters a partial mask keeps.")

    class Meta:
        ordering = ["group__name", "pattern"]
        constraints = [models.UniqueConstraint(fields=["group", "pattern"], name="sqltools_datarule_group_pattern")]

    def __str__(self) -> str:
        return f"{self.group}: {self.effect} {self.pattern}" + (f" ({self.mask})" if self.effect == "mask" else "")

    def clean(self) -> None:
        parts = self.pattern.split(".")
        if not 1 <= len(parts) <= 3 or not all(part.strip() for part in parts):
            raise ValidationError({"pattern": "Write schema, schema.table or schema.table.column (* for any name)."})
        if self.effect == self.Effect.MASK and not self.mask:
            raise ValidationError({"mask": "Choose how the column is masked."})


class RowFilter(models.Model):
    """Rows of one table a group may see: a SQL condition, with the user's attributes as :user.<name>."""

    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="row_filters")
    table = models.CharField(max_length=255, help_text="schema.table")
    predicate = models.TextField(help_text="A condition in the target's SQL, e.g. region = :user.region")

    class Meta:
        ordering = ["group__name", "table"]
        constraints = [models.UniqueConstraint(fields=["group", "table"], name="sqltools_rowfilter_group_table")]

    def __str__(self) -> str:
        return f"{self.group}: {self.table} WHERE {self.predicate}"

    def clean(self) -> None:
        from sqltools.governance import row_filter_check  # the guard needs the app registry loaded

        if len(self.table.split(".")) != 2:
            raise ValidationError({"table": "Write schema.table (* for any name): *.customers, sales.orders."})
        problem = row_filter_check(self.predicate)
        if problem:
            raise ValidationError({"predicate": problem})


class UserAttribute(models.Model):
    """A value row filters may use as :user.<name> (region, department, tenant…)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_attributes")
    name = models.SlugField(max_length=64)
    value = models.CharField(max_length=255)

    class Meta:
        ordering = ["user_id", "name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="sqltools_userattribute_user_name")]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class GroupLimits(models.Model):
    """A group's cost guard: the estimate a read may reach before it needs approval (or is refused)."""

    class OverLimit(models.TextChoices):
        APPROVE = "approve", "needs the user's approval"
        REFUSE = "refuse", "is refused"

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="cost_limits")
    max_estimated_rows = models.BigIntegerField(
        null=True, blank=True, help_text="Empty: the server's MAX_ESTIMATED_ROWS."
    )
    max_estimated_cost = models.FloatField(null=True, blank=True, help_text="Empty: the server's MAX_ESTIMATED_COST.")
    over_limit = models.CharField(
        max_length=8, choices=OverLimit.choices, blank=True, help_text="Empty: the server's OVER_LIMIT."
    )

    class Meta:
        verbose_name_plural = "group cost limits"

    def __str__(self) -> str:
        return f"{self.group}: rows {self.max_estimated_rows or '-'}, cost {self.max_estimated_cost or '-'}"


class Approval(models.Model):
    """A person's decision on one statement: bound to the user, the OAuth client, the statement's hash and the
    target; it expires, and an approved one runs its statement once (sqltools.approvals)."""

    class Status(models.TextChoices):
        PENDING = "pending", "waiting for the user"
        APPROVED = "approved", "approved"
        DECLINED = "declined", "declined"
        USED = "used", "approved and run"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    client_id = models.CharField(max_length=255)
    client_name = models.CharField(max_length=255, blank=True)
    alias = models.CharField(max_length=64, help_text="The target database alias.")
    target = models.CharField(max_length=512, help_text="The database it runs on: engine, host, port and name.")
    database = models.CharField(max_length=255, blank=True, help_text="The database's name, as the page shows it.")
    sql = models.TextField()
    sql_hash = models.CharField(max_length=64, db_index=True)
    reason = models.CharField(max_length=16, help_text="write or cost")
    estimate = models.JSONField(default=dict, blank=True)
    tables = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.reason} {self.status} {self.sql[:40]}"
