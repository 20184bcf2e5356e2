from __future__ import annotations

from django.contrib import admin

from sqltools.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "username", "client_name", "tool", "outcome", "rows", "duration_ms", "short_sql")
    list_filter = ("outcome", "tool", "created_at", "client_name")
    search_fields = ("username", "client_id", "client_name", "sql", "message")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    @admin.display(description="SQL")
    def short_sql(self, entry: AuditEntry) -> str:
        return entry.sql[:80] + ("…" if len(entry.sql) > 80 else "")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
