"""The user admin, plus each user's OAuth access: connected clients, tokens, and the block.

A staff member with `auth.view_user` sees a user's connections and tokens; revoking everything
and blocking (or unblocking) needs `oauth_ext.block_user`. Installed over whatever admin the
project registered for the user model (OAuthExtConfig.ready, after the admin's autodiscovery).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext
from oauth2_provider.models import get_access_token_model

from oauth_ext.access import user_block, user_connections, user_is_blocked, user_unblock
from oauth_ext.models import BlockedUser

BLOCK_PERMISSION = "oauth_ext.block_user"


class BlockedFilter(admin.SimpleListFilter):
    title = "OAuth access"
    parameter_name = "oauth"

    def lookups(self, request, model_admin):
        return (("blocked", "Blocked"), ("allowed", "Not blocked"))

    def queryset(self, request, queryset):
        if self.value() in ("blocked", "allowed"):
            return queryset.filter(oauth_blocked=self.value() == "blocked")
        return queryset


def user_admin_class(base: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    """`base` (the registered user admin) with the OAuth column, filter, page and actions added."""

    class UserAccessAdmin(base):
        oauth_access_added = True
        list_display = (*base.list_display, "oauth_access")
        list_filter = (*base.list_filter, BlockedFilter)
        actions = (*(base.actions or ()), "revoke_and_block", "unblock")

        def get_queryset(self, request):
            blocked = BlockedUser.objects.filter(user=OuterRef("pk"))
            return super().get_queryset(request).annotate(oauth_blocked=Exists(blocked))

        def get_urls(self):
            view = self.admin_site.admin_view(self.oauth_access_view)
            opts = self.opts
            name = f"{opts.app_label}_{opts.model_name}_oauth_access"
            return [path("<path:object_id>/oauth-access/", view, name=name), *super().get_urls()]

        def has_block_permission(self, request: HttpRequest) -> bool:
            return request.user.has_perm(BLOCK_PERMISSION)

        @admin.display(description="OAuth access", ordering="oauth_blocked")
        def oauth_access(self, user) -> str:
            url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_oauth_access", args=[user.pk])
            return format_html('<a href="{}">{}</a>', url, "blocked" if user.oauth_blocked else "clients and tokens")

        @admin.action(description="Revoke all OAuth access of the selected users and block them", permissions=["block"])
        def revoke_and_block(self, request, queryset) -> None:
            revoked = sum(user_block(user=user, by=request.user) for user in queryset)
            self.message_user(request, ngettext("Blocked %(users)d user; revoked %(tokens)d access tokens.",
                                                "Blocked %(users)d users; revoked %(tokens)d access tokens.",
                                                len(queryset)) % {"users": len(queryset), "tokens": revoked})

        @admin.action(description="Unblock the selected users (they may authorize clients again)",
                      permissions=["block"])
        def unblock(self, request, queryset) -> None:
            for user in queryset:
                user_unblock(user=user)
            count = len(queryset)
            self.message_user(request, ngettext("Unblocked %d user.", "Unblocked %d users.", count) % count)

        def oauth_access_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
            user = get_object_or_404(get_user_model().objects.select_related("oauth_block"), pk=object_id)
            if not self.has_view_permission(request, user):
                raise PermissionDenied
            if request.method == "POST":
                return self._oauth_access_change(request, user)
            context = {
                **self.admin_site.each_context(request), "opts": self.opts, "original": user,
                "title": f"OAuth access of {user.get_username()}", "connections": user_connections(user=user),
                "tokens": get_access_token_model().objects.filter(user=user).select_related("application")
                .order_by("-created"),
                "blocked": user.oauth_block if user_is_blocked(user) else None, "now": timezone.now(),
                "can_block": self.has_block_permission(request),
            }
            return TemplateResponse(request, "admin/oauth_ext/user_access.html", context)

        def _oauth_access_change(self, request: HttpRequest, user) -> HttpResponse:
            if not self.has_block_permission(request):
                raise PermissionDenied
            if "unblock" in request.POST:
                user_unblock(user=user)
                messages.success(request, f"{user.get_username()} may authorize clients again.")
            else:
                revoked = user_block(user=user, by=request.user)
                messages.success(request, f"Blocked {user.get_username()} and revoked {revoked} access token(s).")
            return redirect(request.path)

    UserAccessAdmin.__name__ = UserAccessAdmin.__qualname__ = f"UserAccess{base.__name__}"
    return UserAccessAdmin


def admin_site_adjust(site: admin.AdminSite) -> None:
    """Run after autodiscovery: the user admin gains OAuth access; ID tokens leave when OIDC is off."""
    from oauth2_provider.models import get_id_token_model
    from oauth2_provider.settings import oauth2_settings

    user_model = get_user_model()
    base = type(site.get_model_admin(user_model)) if site.is_registered(user_model) else None
    if base is not None and not getattr(base, "oauth_access_added", False):
        site.unregister(user_model)
        site.register(user_model, user_admin_class(base))
    if not oauth2_settings.OIDC_ENABLED and site.is_registered(get_id_token_model()):
        site.unregister(get_id_token_model())
