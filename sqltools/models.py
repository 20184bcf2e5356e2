"""The audit log: one row per tool call, in Django's own database."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok", "ok"
        REFUSED = "refused", "refused"
        INVALID = "invalid_argument", "invalid argument"
        NOT_FOUND = "not_found", "not found"
        TIMEOUT = "timeout", "timeout"
        QUERY_ERROR = "query_error", "query error"
        UNAVAILABLE = "unavailable", "database unavailable"
        ERROR = "error", "error"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    client_id = models.CharField(max_length=255, blank=True, db_index=True)
    client_name = models.CharField(max_length=255, blank=True)
    tool = models.CharField(max_length=64, db_index=True)
    arguments = models.JSONField(default=dict, blank=True, help_text="Tool arguments other than the SQL text.")
    sql = models.TextField(blank=True)
    outcome = models.CharField(max_length=32, choices=Outcome.choices, db_index=True)
    message = models.TextField(blank=True)
    rows = models.IntegerField(null=True, blank=True)
    duration_ms = models.FloatField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.tool} {self.outcome}"
