from django.apps import AppConfig


class SqlToolsConfig(AppConfig):
    name = "sqltools"
    verbose_name = "SQL tools"

    def ready(self) -> None:
        from sqltools import checks  # noqa: F401  (registers the system checks)
        from sqltools.connections import watch_connections

        watch_connections()
        self._watch_policies()

    def _watch_policies(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from sqltools.governance import policies_changed
        from sqltools.models import DataRule, GroupLimits, RowFilter, UserAttribute

        for model in (DataRule, RowFilter, UserAttribute, GroupLimits, get_user_model()):
            for signal in (post_save, post_delete):
                signal.connect(policies_changed, sender=model, dispatch_uid=f"sqltools.policies.{model._meta.label}")
        m2m_changed.connect(policies_changed, sender=get_user_model().groups.through,
                            dispatch_uid="sqltools.policies.groups")
