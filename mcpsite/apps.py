from django.apps import AppConfig


class McpSiteConfig(AppConfig):
    name = "mcpsite"
    verbose_name = "MCP site"
