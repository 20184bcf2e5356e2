"""DOT's admin for clients, tokens and grants, with revoke/disable actions and useful filters.

DOT registers the models itself; OAUTH2_PROVIDER's *_ADMIN_CLASS settings point at these. The
per-user OAuth page and the block action are on the user admin (oauth_ext.admin_users).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import ngettext
from oauth2_provider import admin as dot_admin
from oauth2_provider.forms import ApplicationForm
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

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


def seconds(value) -> str:
    """A timestamp to the second, in the server's time zone: the admin's default drops the seconds."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _latest(model, field: str) -> Subquery:
    """`field` of the client's newest row of `model` (a token or grant table)."""
    return Subquery(model.objects.filter(application=OuterRef("pk")).order_by("-created").values(field)[:1])


class ClientForm(ApplicationForm):
    """Every client here uses the authorization-code grant: the form does not ask."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.authorization_grant_type:
            self.instance.authorization_grant_type = get_application_model().GRANT_AUTHORIZATION_CODE


class ClientAdmin(dot_admin.ApplicationAdmin):
    """Clients, told apart by owner, age and last use; only the fields that apply to this server.

    Hidden: the grant type (always authorization code), OIDC's algorithm and logout URIs (no
    OIDC here), allowed origins (the token endpoint answers CORS for everyone), and the secret
    of a public client. "Owner" is whoever last authorized the client (its tokens and codes), or
    the user it was registered for; a DCR client has no user of its own.
    """

    form = ClientForm
    list_display = ("name", "short_client_id", "owner", "registration_source", "client_type", "created_at",
                    "last_used", "enabled")
    list_filter = (ClientStatusFilter, "registration_source", "client_type")
    search_fields = ("name", "client_id")
    readonly_fields = (*dot_admin.ApplicationAdmin.readonly_fields, "created_at", "updated", "owner", "last_used",
                       "enabled")
    actions = ("revoke_tokens", "disable_clients", "enable_clients")

    def get_fields(self, request, obj=None):
        fields = ["name", "client_id", "client_type", "redirect_uris"]
        if obj is None or obj.client_type == obj.CLIENT_CONFIDENTIAL:
            fields += ["client_secret"] if obj is not None else ["client_secret", "hash_client_secret"]
        fields += ["skip_authorization", "user"]
        if obj is not None:
            fields += ["registration_source", "owner", "created_at", "last_used", "updated", "enabled"]
            if obj.registration_source == obj.RegistrationSource.CIMD:
                fields.append("cimd_expires_at")
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*readonly, "client_id", "client_type") if obj is not None else readonly

    def get_queryset(self, request):
        username = f"user__{get_user_model().USERNAME_FIELD}"
        access, refresh, grants = get_access_token_model(), get_refresh_token_model(), get_grant_model()
        last_access, last_refresh = _latest(access, "created"), _latest(refresh, "created")
        return super().get_queryset(request).annotate(
            is_disabled=Exists(DisabledClient.objects.filter(client_id=OuterRef("client_id"))),
            owner_name=Coalesce(_latest(refresh, username), _latest(access, username), _latest(grants, username),
                                F(username)),
            last_used_at=Greatest(Coalesce(last_access, last_refresh), Coalesce(last_refresh, last_access)),
        )

    @admin.display(description="client ID", ordering="client_id")
    def short_client_id(self, application) -> str:
        client_id = application.client_id
        return client_id if len(client_id) <= 12 else f"{client_id[:10]}…"

    @admin.display(description="owner", ordering="owner_name")
    def owner(self, application) -> str:
        return application.owner_name or "—"

    @admin.display(description="created", ordering="created")
    def created_at(self, application) -> str:
        return seconds(application.created)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, application) -> str:
        """When it last obtained a token: a client in use refreshes at least once per access-token lifetime."""
        return seconds(application.last_used_at)

    def get_deleted_objects(self, objs, request):
        # Deleting a client deletes its tokens, which is the point: DOT's access and refresh token
        # admins forbid deleting a token row by hand, but that must not block deleting its client.
        # Grants and ID tokens keep the ordinary permission check.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        tokens = {model._meta.verbose_name for model in (get_access_token_model(), get_refresh_token_model())}
        return deleted, counts, perms_needed - tokens, protected

    @admin.display(boolean=True, description="enabled", ordering="-is_disabled")
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
