"""System checks that tell an operator what is wrong with the SQL target configuration."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from sqltools.conf import sqltools_settings
from sqltools.errors import TargetUnavailable
from sqltools.login import login_privileges
from sqltools.vendors import vendor_for


@register(Tags.database, Tags.compatibility, deploy=False)
def check_target(app_configs=None, **kwargs) -> list:
    conf = sqltools_settings()
    errors: list = []
    target = settings.DATABASES.get(conf.ALIAS)
    if target is None:
        return [
            Error(
                f"The SQL target alias '{conf.ALIAS}' is not in DATABASES.",
                hint="Set TARGET_DATABASE_URL or MSSQL_HOST, or leave both unset for the demo database.",
                id="sqltools.E001",
            )
        ]
    engine = target.get("ENGINE", "")
    try:  # the connection object only: nothing connects here
        vendor = vendor_for(connections[conf.ALIAS]).name
    except (LookupError, ImportError, ImproperlyConfigured):  # not a vendor we know, or its driver is missing
        vendor = None
    if vendor is None:
        errors.append(
            Error(
                f"The SQL target engine '{engine}' is not supported.",
                hint="Use mssql://, postgres://, mysql:// or sqlite:/// in TARGET_DATABASE_URL.",
                id="sqltools.E002",
            )
        )
    if conf.MAX_ROWS < 1 or conf.MAX_SAMPLE_ROWS < 1 or conf.MAX_RESULT_CHARS < 1000 or conf.QUERY_TIMEOUT_SECONDS <= 0:
        errors.append(
            Error(
                "MAX_ROWS, MAX_SAMPLE_ROWS, MAX_RESULT_CHARS (>= 1000) and QUERY_TIMEOUT_SECONDS must be positive.",
                id="sqltools.E003",
            )
        )
    if not conf.READ_ONLY:
        errors.append(
            Warning(
                "READ_ONLY_MODE is off: tokens with the sql:write scope can change data.",
                hint="Prefer a read-only database login as well; see docs/read_only.md.",
                id="sqltools.W001",
            )
        )
    if conf.ALLOW_DDL:
        errors.append(Warning("ALLOW_DDL is on: tokens with sql:write can change the schema.", id="sqltools.W002"))
    if (
        conf.WRITE_APPROVAL not in ("off", "required")
        or conf.OVER_LIMIT not in ("approve", "refuse")
        or conf.APPROVAL_TTL_SECONDS < 1
        or conf.MAX_ESTIMATED_ROWS < 0
        or conf.MAX_ESTIMATED_COST < 0
    ):
        errors.append(
            Error(
                f"WRITE_APPROVAL must be off or required ({conf.WRITE_APPROVAL!r}), OVER_LIMIT approve or refuse "
                f"({conf.OVER_LIMIT!r}), APPROVAL_TTL_SECONDS positive, the estimate limits 0 or more.",
                hint="Until fixed, any WRITE_APPROVAL but off requires approval (docs/approvals.md).",
                id="sqltools.E004",
            )
        )
    if (
        vendor == "mssql"
        and target.get("OPTIONS", {}).get("extra_params", "").lower().find("trustservercertificate=yes") >= 0
    ):
        errors.append(
            Warning(
                "TrustServerCertificate=yes: the SQL Server's TLS certificate is not verified.",
                hint="Install the server's CA and remove TrustServerCertificate.",
                id="sqltools.W003",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def check_target_login(app_configs=None, **kwargs) -> list:
    """Connects to the target, so only with --deploy: a login that can write is the missing barrier."""
    conf = sqltools_settings()
    if conf.ALIAS not in settings.DATABASES:
        return []  # sqltools.E001 says so
    try:
        report = login_privileges(conf.ALIAS)
    except TargetUnavailable as error:
        return [Warning(f"Could not check what the SQL target login may do: {error}", id="sqltools.W011")]
    if report.read_only is None:
        return [Warning(f"Could not tell whether the SQL target login can write: {'; '.join(report.reasons)}.",
                        id="sqltools.W011")]
    if report.read_only:
        return []
    level, check_id = (Error, "sqltools.E010") if conf.REQUIRE_READ_ONLY_LOGIN else (Warning, "sqltools.W010")
    return [level(f"The SQL target login can write ({'; '.join(report.reasons)}).",
                  hint="In read-only mode the statement guard and read-only transactions are the only barrier: "
                       "use a read-only login (docs/read_only.md).", id=check_id)]
