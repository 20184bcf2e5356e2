"""Django settings, read once from the environment (and an optional .env file).

DJANGO_ENV=local (the default, what `make run` uses) gives a working server with no
configuration: SQLite for Django's own data and the SQLite demo database as the SQL target.
DJANGO_ENV=production refuses to start without a real SECRET_KEY, ALLOWED_HOSTS and
PUBLIC_URL, and turns on the HTTPS-only settings that `manage.py check --deploy` expects.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from mcpsite.targetdb import target_database

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DJANGO_ENV = env.str("DJANGO_ENV", default="local")
PRODUCTION = DJANGO_ENV == "production"
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret_key() -> str:
    """A per-checkout random key, kept under var/ so sessions survive restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
PUBLIC_URL = env.str("PUBLIC_URL", default="").rstrip("/")
if PRODUCTION:
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("SECRET_KEY must be set to a random value of 50+ characters in production.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production.")
    if not PUBLIC_URL.startswith("https://"):
        raise ImproperlyConfigured("PUBLIC_URL must be set to the https:// address clients use in production.")
elif not SECRET_KEY:
    SECRET_KEY = _local_secret_key()

_default_hosts = [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"]
# An empty ALLOWED_HOSTS= (as copied from .env.example) means "not set", not "no host at all".
ALLOWED_HOSTS = [h for h in env.list("ALLOWED_HOSTS", default=[]) if h.strip()] or _default_hosts
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the server's host names in production.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "mcpsite",
    "sqltools",
    "oauth_ext",
    "mcp_bridge",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mcpsite.urls"
ASGI_APPLICATION = "mcpsite.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Django's own data (users, OAuth clients, grants, tokens, audit log) and the SQL target.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'django.sqlite3'}"),
    "target": target_database(env, var_dir=VAR_DIR),
}
# Tool calls run in worker threads that keep their connection between calls (mcp_bridge/threads.py).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Many async workers write tokens and audit rows: wait for the lock instead of failing. In WAL mode,
    # synchronous=NORMAL syncs at checkpoints rather than at every commit (an audit row per tool call):
    # still never corrupt, though a power cut (not a crash) can lose the last commits.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASE_ROUTERS = ["sqltools.routers.TargetRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2, "IGNORE_EXCEPTIONS": False},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # collectstatic runs at image build; locally finders serve

# Behind nginx: trust X-Forwarded-Proto/Host only when the operator says a proxy sets them.
TRUST_PROXY_HEADERS = env.bool("TRUST_PROXY_HEADERS", default=PRODUCTION)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
if PUBLIC_URL:
    CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# /metrics (Prometheus text, mcpsite/metrics.py): off unless METRICS_TOKEN is set (scrapers send it as a bearer
# token) or METRICS_ALLOWED_IPS names addresses or networks admitted without it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = [a.strip() for a in env.list("METRICS_ALLOWED_IPS", default=[]) if a.strip()]
for _entry in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_entry!r} is not an address or network (10.0.0.5, 10.0.0.0/8).")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "mcpsite.logging.JsonFormatter"},
    },
    # No credential reaches a log line, whichever logger writes it (oauthlib and DOT log codes and
    # tokens at DEBUG): every handler carries the redacting filter. See mcpsite/logging.py.
    "filters": {"redact_secrets": {"()": "mcpsite.logging.RedactSecrets"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain"),
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # uvicorn's own handlers would bypass the filter (an access line holds the query string);
        # its levels stay as --log-level set them.
        "uvicorn": {"handlers": ["stdout"], "propagate": False},
        "uvicorn.access": {"handlers": ["stdout"], "propagate": False},
        # The SDK logs every stateless request's session teardown at INFO.
        "mcp.server.streamable_http": {"level": "WARNING"},
        "mcp.server.streamable_http_manager": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},  # request lines of the mcp_smoke command and the SDK client
    },
}

# The SQL tools (sqltools/conf.py reads these through one object). Names follow the original README.
SQLTOOLS = {
    "ALIAS": env.str("TARGET_DATABASE_ALIAS", default="target"),
    "READ_ONLY": env.bool("READ_ONLY_MODE", default=True),
    "ALLOW_DDL": env.bool("ALLOW_DDL", default=False),
    "MAX_ROWS": env.int("MAX_ROWS", default=1000),
    "MAX_SAMPLE_ROWS": env.int("MAX_SAMPLE_ROWS", default=100),
    "MAX_RESULT_CHARS": env.int("MAX_RESULT_CHARS", default=100_000),
    "MAX_VALUE_BYTES": env.int("MAX_VALUE_BYTES", default=16 * 1024 * 1024),
    "QUERY_TIMEOUT_SECONDS": env.float("QUERY_TIMEOUT_SECONDS", default=30),
    "MAX_SEARCH_RESULTS": env.int("MAX_SEARCH_RESULTS", default=50),
    "CACHE_TTL_SECONDS": env.int("CACHE_TTL_SECONDS", default=3600),
    "AUDIT": env.bool("AUDIT_LOG", default=True),
    "MAX_QUERY_CHARS": env.int("MAX_QUERY_CHARS", default=65_536),
    # Comma-separated additions to the read-only guard's allow lists (docs/read_only.md).
    "READ_ONLY_EXTRA_FUNCTIONS": tuple(env.list("READ_ONLY_EXTRA_FUNCTIONS", default=[])),
    "READ_ONLY_EXTRA_RELATIONS": tuple(env.list("READ_ONLY_EXTRA_RELATIONS", default=[])),
    "REQUIRE_READ_ONLY_LOGIN": env.bool("REQUIRE_READ_ONLY_LOGIN", default=False),
    # Write mode: UPDATE/DELETE without WHERE, and the most rows one write may change (more: rolled back).
    "ALLOW_UNFILTERED_WRITES": env.bool("ALLOW_UNFILTERED_WRITES", default=False),
    "MAX_AFFECTED_ROWS": env.int("MAX_AFFECTED_ROWS", default=1000),
    # Data policies (docs/governance.md): what users in no group with rules see, and whether superusers are bound.
    "DATA_POLICY_DEFAULT": env.str("DATA_POLICY_DEFAULT", default="allow_all"),
    "DATA_POLICY_SUPERUSER_EXEMPT": env.bool("DATA_POLICY_SUPERUSER_EXEMPT", default=False),
    # A person approves on /approvals/<id> (docs/approvals.md): every write, and reads over the cost guard.
    "WRITE_APPROVAL": env.str("WRITE_APPROVAL", default="off"),
    "MAX_ESTIMATED_ROWS": env.int("MAX_ESTIMATED_ROWS", default=0),
    "MAX_ESTIMATED_COST": env.float("MAX_ESTIMATED_COST", default=0),
    "OVER_LIMIT": env.str("OVER_LIMIT", default="approve"),
    "APPROVAL_TTL_SECONDS": env.int("APPROVAL_TTL_SECONDS", default=600),
    # Every statement sent to the target starts with a SQLCommenter tag: client, user id, tool, audit id.
    "COMMENT_TAGS": env.bool("SQL_COMMENT_TAGS", default=True),
    "COMMENT_USER_NAMES": env.bool("SQL_COMMENT_USER_NAMES", default=False),
}

# The MCP transports (mcp_bridge/conf.py). The two ALLOW_UNAUTH_* flags are the original
# README's development switches: off by default, and loudly logged when on.
MCP_BRIDGE = {
    "ALLOW_UNAUTH_METHODS": env.bool("ALLOW_UNAUTH_METHODS", default=False),
    "ALLOW_UNAUTH_TOOLS_CALL": env.bool("ALLOW_UNAUTH_TOOLS_CALL", default=False),
    "MAX_BODY_BYTES": env.int("MCP_MAX_BODY_BYTES", default=1_000_000),
    "ALLOWED_ORIGINS": env.list("MCP_ALLOWED_ORIGINS", default=[]),
    "WORKER_THREADS": env.int("MCP_WORKER_THREADS", default=16),
    # Sessions live in one worker: on by default only where there is one (docs/approvals.md).
    "ELICITATION_SESSIONS": env.bool("MCP_ELICITATION_SESSIONS", default=env.int("WEB_CONCURRENCY", default=1) <= 1),
    "TOKEN_CACHE_SECONDS": env.int("TOKEN_CACHE_SECONDS", default=60),
}

# --- OAuth (oauth_ext) ---
# django-oauth-toolkit as the authorization server MCP clients expect: authorization code with
# PKCE S256 only, rotating refresh tokens, RFC 7591 registration open to anonymous clients
# (held to the redirect policy in OAUTH_EXT), CIMD behind CIMD_ENABLED. See docs/oauth.md.
OAUTH_EXT = {
    "ALLOWED_REDIRECT_HOSTS": env.list(
        "ALLOWED_REDIRECT_HOSTS", default=["chatgpt.com", "openai.com", "claude.ai", "anthropic.com", "claude.com"]
    ),
    "ALLOW_LOOPBACK_REDIRECTS": env.bool("ALLOW_LOOPBACK_REDIRECTS", default=not PRODUCTION),
    "REGISTRATION_RATE_LIMIT": env.str("REGISTRATION_RATE_LIMIT", default="30/h"),
    "REGISTRATION_MAX_BYTES": env.int("REGISTRATION_MAX_BYTES", default=16 * 1024),
    # Who may connect an assistant and who may be granted sql:write (oauth_ext/rights.py):
    # "" (any active user), perm:<app>.<codename> or group:<name>.
    "CONNECT_REQUIRES": env.str("MCP_CONNECT_REQUIRES", default=""),
    "WRITE_REQUIRES": env.str("MCP_WRITE_REQUIRES", default="perm:oauth_ext.write_sql"),
}
OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "oauth_ext.validators.OAuth2Validator",
    # The two scopes, in the words the consent page shows; a request without `scope` gets sql:read.
    "SCOPES": {
        "sql:read": "See the database’s tables and columns and read data with queries that change nothing.",
        "sql:write": "Change data: insert, update and delete rows.",
    },
    "DEFAULT_SCOPES": ["sql:read"],
    "APPLICATION_ADMIN_CLASS": "oauth_ext.admin.ClientAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "oauth_ext.admin.AccessTokenAdmin",
    "REFRESH_TOKEN_ADMIN_CLASS": "oauth_ext.admin.RefreshTokenAdmin",
    "GRANT_ADMIN_CLASS": "oauth_ext.admin.GrantAdmin",
    "OIDC_ISS_ENDPOINT": PUBLIC_URL,  # the issuer; empty: derived from the request
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("ACCESS_TOKEN_EXPIRE_SECONDS", default=3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int("REFRESH_TOKEN_EXPIRE_SECONDS", default=30 * 86400),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # only SHA-256 checksums of tokens are stored
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "ALLOW_LOCALHOST_LOOPBACK": OAUTH_EXT["ALLOW_LOOPBACK_REDIRECTS"],  # any port on http://localhost too
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"] if OAUTH_EXT["ALLOW_LOOPBACK_REDIRECTS"] else ["https"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_basic", "client_secret_post"],
    "OAUTH2_PROTECTED_RESOURCE_NAME": env.str("OAUTH_RESOURCE_NAME", default="SQL Server (MCP)"),
    "DCR_ENABLED": True,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "CIMD_ENABLED": env.bool("CIMD_ENABLED", default=False),
    "CIMD_ALLOWED_HOSTS": env.list("CIMD_ALLOWED_HOSTS", default=OAUTH_EXT["ALLOWED_REDIRECT_HOSTS"]),
    "CIMD_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.cimd.HostAllowlistCIMDPermission",),
    "CIMD_METADATA_FETCHER": "oauth_ext.cimd.PolicyMetadataFetcher",
}
