"""/records/<id>: the page a ChatGPT citation links to, for a signed-in user of this server."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mcpsite.health import database_label
from sqltools.audit import Actor, audit_call
from sqltools.conf import sqltools_settings
from sqltools.errors import SqlToolError
from sqltools.governance import access_for_user_id, access_scope
from sqltools.search import fetch_run


@login_required
def record_show(request: HttpRequest, record_id: str) -> HttpResponse:
    actor = Actor(user_id=request.user.pk, username=request.user.get_username(), client_name="web (citation link)")
    context = {"database_name": database_label(sqltools_settings().ALIAS)}
    try:
        with audit_call(tool="fetch", actor=actor, arguments={"id": record_id}), \
                access_scope(access_for_user_id(user_id=request.user.pk, client=actor.client_name)):
            context["record"] = fetch_run(id=record_id)
    except SqlToolError as error:
        context["error"] = error.message
        return render(request, "records/record.html", context, status=404 if error.code == "not_found" else 400)
    return render(request, "records/record.html", context)
