"""The audit log in the admin: append-only, readable, filterable by outcome.

Nobody adds, changes or deletes an entry here, superusers included: old entries leave only
through `manage.py audit_prune`, which records that it ran.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from sqltools.models import AuditEntry

LIST_SQL_CHARS = 300


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("when", "username", "client_name", "tool", "outcome", "rows", "duration", "sql_text")
    list_filter = ("outcome", "tool", "created_at", "client_name")
    search_fields = ("username", "client_id", "client_name", "sql", "message")
    date_hierarchy = "created_at"
    fields = ("when", "username", "user", "client_name", "client_id", "tool", "outcome", "message", "rows",
              "duration", "arguments", "sql_full")
    readonly_fields = fields

    class Media:
        css = {"all": ("css/admin.css",)}

    @admin.display(description="time", ordering="created_at")
    def when(self, entry: AuditEntry) -> str:
        return timezone.localtime(entry.created_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, entry: AuditEntry) -> str:
        ms = entry.duration_ms
        return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms"

    @admin.display(description="SQL")
    def sql_text(self, entry: AuditEntry) -> str:
        """Wrapped, and cut at LIST_SQL_CHARS so a page of long statements stays a page; the entry shows it all."""
        sql = entry.sql if len(entry.sql) <= LIST_SQL_CHARS else f"{entry.sql[:LIST_SQL_CHARS]}…"
        return format_html('<pre class="sql">{}</pre>', sql) if sql else "—"

    @admin.display(description="SQL")
    def sql_full(self, entry: AuditEntry) -> str:
        return format_html('<pre class="sql">{}</pre>', entry.sql) if entry.sql else "—"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
