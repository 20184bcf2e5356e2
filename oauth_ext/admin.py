"""DOT's admin for clients, tokens and grants, with revoke/disable actions and useful filters.

DOT registers the models itself; OAUTH2_PROVIDER's *_ADMIN_CLASS settings point at these.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import ngettext
from oauth2_provider import admin as dot_admin
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauth_ext.clients import client_disable, client_enable, client_tokens_revoke
from oauth_ext.models import DisabledClient


class ClientStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("enabled", "Enabled"), ("disabled", "Disabled"))

    def queryset(self, request, queryset):
        if self.value() in ("enabled", "disabled"):
            return queryset.filter(is_disabled=self.value() == "disabled")  # ClientAdmin.get_queryset annotates it
        return queryset


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return (("active", "Not expired"), ("expired", "Expired"))

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(expires__gt=timezone.now())
        if self.value() == "expired":
            return queryset.filter(expires__lte=timezone.now())
        return queryset


class ClientAdmin(dot_admin.ApplicationAdmin):
    list_display = ("name", "client_id", "registration_source", "client_type", "redirect_uris", "created", "enabled")
    list_filter = (ClientStatusFilter, "registration_source", "client_type")
    search_fields = ("name", "client_id")
    readonly_fields = (*dot_admin.ApplicationAdmin.readonly_fields, "created", "updated")
    actions = ("revoke_tokens", "disable_clients", "enable_clients")

    def get_queryset(self, request):
        disabled = DisabledClient.objects.filter(client_id=OuterRef("client_id"))
        return super().get_queryset(request).annotate(is_disabled=Exists(disabled))

    def get_deleted_objects(self, objs, request):
        # Deleting a client deletes its tokens, which is the point: DOT's access and refresh token
        # admins forbid deleting a token row by hand, but that must not block deleting its client.
        # Grants and ID tokens keep the ordinary permission check.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        tokens = {model._meta.verbose_name for model in (get_access_token_model(), get_refresh_token_model())}
        return deleted, counts, perms_needed - tokens, protected

    @admin.display(boolean=True, description="enabled", ordering="is_disabled")
    def enabled(self, application) -> bool:
        return not application.is_disabled

    @admin.action(description="Revoke every token of the selected clients")
    def revoke_tokens(self, request, queryset) -> None:
        revoked = client_tokens_revoke(queryset)
        self.message_user(request, ngettext("Revoked %d access token.", "Revoked %d access tokens.", revoked) % revoked)

    @admin.action(description="Disable the selected clients (and revoke their tokens)")
    def disable_clients(self, request, queryset) -> None:
        for application in queryset:
            client_disable(application, by=request.user)
        self.message_user(request, f"Disabled {len(queryset)} client(s); their tokens no longer work.")

    @admin.action(description="Re-enable the selected clients")
    def enable_clients(self, request, queryset) -> None:
        for application in queryset:
            client_enable(application)
        self.message_user(request, f"Re-enabled {len(queryset)} client(s).")


class AccessTokenAdmin(dot_admin.AccessTokenAdmin):
    list_display = ("pk", "user", "application", "scope", "resource", "created", "expires")
    list_filter = (
        ("user", admin.RelatedOnlyFieldListFilter),
        ("application", admin.RelatedOnlyFieldListFilter),
        ExpiryFilter,
    )
    date_hierarchy = "created"


class RefreshTokenAdmin(dot_admin.RefreshTokenAdmin):
    list_display = ("pk", "user", "application", "created", "revoked")
    list_filter = (
        ("user", admin.RelatedOnlyFieldListFilter),
        ("application", admin.RelatedOnlyFieldListFilter),
        ("revoked", admin.EmptyFieldListFilter),
    )


class GrantAdmin(dot_admin.GrantAdmin):
    list_display = ("pk", "application", "user", "scope", "code_challenge_method", "expires")
    list_select_related = ("application", "user")
    list_filter = (("application", admin.RelatedOnlyFieldListFilter), ("user", admin.RelatedOnlyFieldListFilter))
