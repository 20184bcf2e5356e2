from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.utils.html import format_html

from sqltools.errors import SqlToolError
from sqltools.preview import group_preview
from sqltools.models import AuditEntry, DataRule, RowFilter, UserAttribute


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


# --- Data policies: rules and row filters edited on the group they belong to ----------------------------------


class DataRuleInline(admin.TabularInline):
    model = DataRule
    extra = 1
    fields = ("pattern", "effect", "mask", "keep_last")


class RowFilterInline(admin.TabularInline):
    model = RowFilter
    extra = 0
    fields = ("table", "predicate")


class GroupWithPoliciesAdmin(GroupAdmin):
    inlines = [DataRuleInline, RowFilterInline]
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
