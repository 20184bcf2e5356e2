"""The one thing DOT's Application lacks: a way to switch a client off without deleting it.

DOT's Application already records registration_source (manual, dcr, cimd), redirect URIs and
when it was created, so oauth_ext keeps DOT's model and adds this side table rather than
swapping OAUTH2_PROVIDER_APPLICATION_MODEL: no migration-ordering constraints, existing
databases keep working, and the admin stays DOT's admin plus one filter and a few actions.
A row here disables the client_id. It is keyed by client_id, not by foreign key, so the block
survives DOT's `clearcimdapplications` deleting and a CIMD client re-creating its Application.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DisabledClient(models.Model):
    client_id = models.CharField(max_length=255, unique=True)
    disabled_at = models.DateTimeField(default=timezone.now)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "disabled client"

    def __str__(self) -> str:
        return self.client_id


class BlockedUser(models.Model):
    """A user who may not authorize any client until an administrator removes this row.

    Blocking (oauth_ext.access.user_block) also revokes everything the user holds. The block is
    on the user, not on a client, so registering a new client (anonymous DCR) does not get
    around it: /authorize, /token and the MCP token check all refuse the user.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_block")
    blocked_at = models.DateTimeField(default=timezone.now)
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "blocked user"
        permissions = [("block_user", "Can revoke a user's OAuth access and block or unblock them")]

    def __str__(self) -> str:
        return f"{self.user} (blocked {self.blocked_at:%Y-%m-%d %H:%M:%S})"


class CodeRedemption(models.Model):
    """An authorization code that was exchanged, and the tokens the exchange issued (oauth_ext.codes).

    DOT deletes a Grant when its code is exchanged, so a second presentation of the code looks
    like any unknown code; this row tells a replay apart. Only SHA-256 checksums are kept, as DOT
    keeps tokens (COMPLIANT_BCP_RFC9700_TOKEN_STORAGE).
    """

    code_checksum = models.CharField(max_length=64, db_index=True)
    access_token_checksum = models.CharField(max_length=64)
    refresh_token_checksum = models.CharField(max_length=64, blank=True)
    redeemed_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"code redeemed at {self.redeemed_at:%Y-%m-%d %H:%M:%S}"


class AssistantAccess(models.Model):
    """No table: it holds the two permissions that decide who may connect an assistant and who may write.

    Which permission (or group) each right needs is a setting (oauth_ext.rights): by default anyone
    active may connect, and only holders of oauth_ext.write_sql (superusers hold every permission) may
    be granted sql:write.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("connect_assistant", "May connect an assistant (authorize an OAuth client)"),
            ("write_sql", "May be granted sql:write (change data, where the server allows writes)"),
        ]
