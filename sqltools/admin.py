"""The audit log in the admin (append-only, readable, filterable by outcome) and the data policies.

Nobody adds, changes or deletes an audit entry here, superusers included: old entries leave only
through `manage.py audit_prune`, which records that it ran. Data rules and row filters are edited
on the group they belong to, with a preview of what the group sees.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.html import format_html

from sqltools.errors import SqlToolError
from sqltools.models import Approval, AuditEntry, DataRule, GroupLimits, RowFilter, UserAttribute
from sqltools.preview import group_preview

LIST_SQL_CHARS = 300


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("when", "username", "client_name", "tool", "outcome", "rows", "duration", "sql_text")
    list_filter = ("outcome", "rule", "tool", "created_at", "client_name")
    # audit_id: what a statement tag on the target names (docs/deploy.md)
    search_fields = ("username", "client_id", "client_name", "sql", "message", "=audit_id")
    date_hierarchy = "created_at"
    fields = ("when", "audit_id", "username", "user", "client_name", "client_id", "tool", "outcome", "message", "rows",
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

# --- Data policies: rules and row filters edited on the group they belong to ----------------------------------


class DataRuleInline(admin.TabularInline):
    model = DataRule
    extra = 1
    fields = ("pattern", "effect", "mask", "keep_last")


class RowFilterInline(admin.TabularInline):
    model = RowFilter
    extra = 0
    fields = ("table", "predicate")


class GroupLimitsInline(admin.StackedInline):
    model = GroupLimits
    extra = 0
    max_num = 1
    verbose_name_plural = "cost guard (reads over these estimates need approval or are refused)"


class GroupWithPoliciesAdmin(GroupAdmin):
    inlines = [DataRuleInline, RowFilterInline, GroupLimitsInline]
    readonly_fields = ("data_preview",)

    def get_fields(self, request, obj=None):
        return [*super().get_fields(request, obj), *([] if obj is None else ["data_preview"])]

    @admin.display(description="What this group sees (live catalog)")
    def data_preview(self, group: Group) -> str:
        try:
            preview = group_preview(group=group)
        except SqlToolError as error:
            return f"The SQL target could not be read: {error}"
        if not preview:
            return "No table: add an allow or mask rule."
        lines = [f"{table}: " + ", ".join(f"{c} (masked)" if masked else c for c, masked in columns)
                 for table, columns in preview]
        return format_html("<pre class='sql-block'>{}</pre>", "\n".join(lines))


@admin.register(UserAttribute)
class UserAttributeAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "value")
    list_filter = ("name",)
    search_fields = ("user__username", "name", "value")
    autocomplete_fields = ("user",)


admin.site.unregister(Group)
admin.site.register(Group, GroupWithPoliciesAdmin)


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
    """Approvals are decided by their user on /approvals/<id>; here they are only read."""

    list_display = ("created_at", "user", "client_name", "reason", "status", "expires_at")
    list_filter = ("status", "reason")
    search_fields = ("user__username", "client_name", "sql")
    readonly_fields = [f.name for f in Approval._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
