"""Smoke-test a deployment the way Claude and ChatGPT connect to it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from mcp_bridge.smoke import SmokeReport, smoke_run


class Command(BaseCommand):
    help = ("Run the connector path against a live server: 401 -> metadata -> registration -> sign-in and consent "
            "-> PKCE token -> every tool over /mcp, /sse and /chatgpt/sse. With --token, only the MCP steps.")

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="The server's base URL or an MCP endpoint URL.")
        parser.add_argument("--token", help="An access token (skips the OAuth steps).")
        parser.add_argument("--username", default="")
        parser.add_argument("--password", default="")

    def handle(self, *args, url: str, token: str | None, username: str, password: str, **options):
        if not token and not (username and password):
            raise CommandError("Give --token, or --username and --password for the sign-in step.")
        report = smoke_run(url=url, token=token, username=username, password=password,
                           report=SmokeReport(emit=self.stdout.write))
        if report.failed:
            raise CommandError(f"{sum(line.startswith('FAIL') for line in report.lines)} step(s) failed.")
        self.stdout.write(self.style.SUCCESS(f"All {len(report.lines)} steps passed."))
