"""Test settings: the product's settings plus target aliases on the machine's real servers.

`target` is the SQLite demo target (an in-memory test copy). `target_pg` and `target_mysql` are
added when PostgreSQL and MariaDB answer on 127.0.0.1; in CI they must (scripts/test-services.sh
starts them), elsewhere their tests skip with the reason.
"""

import os

os.environ.setdefault("DJANGO_ENV", "local")
from mcpsite.settings import *  # noqa: E402,F401,F403
from mcpsite.settings import DATABASES, SQLTOOLS  # noqa: E402
from tests.services import IN_CI, SERVERS, listening  # noqa: E402

SERVICES = {name: listening(port) for name, (port, _) in SERVERS.items()}
if IN_CI:
    down = [name for name, up in SERVICES.items() if not up]
    if down:
        raise RuntimeError(f"CI needs these services on 127.0.0.1 and they are down: {', '.join(down)}")

DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
DATABASES["target"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
if SERVICES["postgresql"]:
    DATABASES["target_pg"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "mcp_target",
        "HOST": "127.0.0.1",
        "PORT": 5432,
        "USER": os.environ.get("TEST_PG_USER", "postgres"),
        "PASSWORD": "",
        "TEST": {"NAME": f"test_mcp_target_{os.getpid()}"},
    }
if SERVICES["mysql"]:
    DATABASES["target_mysql"] = {
        "ENGINE": "django.db.backends.mysql",
        "NAME": "mcp_target",
        "HOST": "127.0.0.1",
        "PORT": 3306,
        "USER": "root",
        "PASSWORD": "",
        "TEST": {"NAME": f"test_mcp_target_{os.getpid()}", "CHARSET": "utf8mb4"},
        "OPTIONS": {"charset": "utf8mb4"},
    }
TARGET_ALIASES = [alias for alias in ("target", "target_pg", "target_mysql") if alias in DATABASES]

SQLTOOLS = {**SQLTOOLS, "QUERY_TIMEOUT_SECONDS": 5.0, "AUDIT": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
LOGGING = {"version": 1, "disable_existing_loggers": False}
