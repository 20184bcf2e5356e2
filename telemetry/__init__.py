"""Metrics and traces, one small module per concern (telemetry.metrics, telemetry.tracing).

The lowest layer of the project: it imports none of its apps, and each of them (sqltools, oauth_ext,
mcp_bridge, mcpsite) may import it, so that every place that already exists records what it does.
"""
