"""ASGI entry point: Django's app first, then mcp_bridge wraps it into the one app uvicorn serves."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpsite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()

from mcp_bridge.app import mcp_application  # noqa: E402  (needs Django set up)

application = mcp_application(django_application)
