from django.apps import AppConfig


class McpBridgeConfig(AppConfig):
    name = "mcp_bridge"
    verbose_name = "MCP bridge"

    def ready(self) -> None:
        from mcp_bridge import checks  # noqa: F401  (registers the system checks)
        from mcp_bridge.token_cache import watch_token_changes

        watch_token_changes()
