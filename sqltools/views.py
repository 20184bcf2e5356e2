"""/records/<id>: the page a ChatGPT citation links to, for a signed-in user of this server."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sqltools.audit import Actor, tool_call
from sqltools.conf import sqltools_settings
from sqltools.errors import SqlToolError
from sqltools.search import fetch_run
from sqltools.target import database_label


@login_required
def record_show(request: HttpRequest, record_id: str) -> HttpResponse:
    """The fetch tool's answer as a page, audited and under the user's data policies like the tool."""
    actor = Actor(user_id=request.user.pk, username=request.user.get_username(), client_name="web (citation link)")
    context = {"database_name": database_label(sqltools_settings().ALIAS)}
    try:
        with tool_call(tool="fetch", actor=actor, arguments={"id": record_id}):
            context["record"] = fetch_run(id=record_id)
    except SqlToolError as error:
        context["error"] = error.message
        return render(request, "records/record.html", context, status=404 if error.code == "not_found" else 400)
    return render(request, "records/record.html", context)
