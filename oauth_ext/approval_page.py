"""/approvals/<id>: the user who asked sees the statement, its client, tables and estimate, and approves or declines.

Sign-in required; only the requesting user may decide (sqltools.approvals says who); the form is
CSRF-protected and the page is framed nowhere (X-Frame-Options DENY, CSP frame-ancestors 'none').
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from oauth_ext.consent import page_protect
from sqltools.approvals import approval_decide, approval_for_user, approval_problem
from sqltools.errors import ApprovalInvalid

_TEMPLATE = "oauth_ext/approval.html"


@login_required
@require_http_methods(["GET", "POST"])
def approval_page(request: HttpRequest, approval_id: str) -> HttpResponse:
    decided = None
    try:
        if request.method == "POST":
            decision = request.POST.get("decision")
            if decision not in ("approve", "decline"):  # a decline is final: never read one into a missing word
                raise ApprovalInvalid("Choose Approve or Decline; nothing was decided.")
            decided = decision == "approve"
            approval = approval_decide(approval_id=approval_id, user=request.user, approve=decided)
        else:
            approval = approval_for_user(approval_id=approval_id, user=request.user)
    except ApprovalInvalid as error:
        return page_protect(render(request, _TEMPLATE, {"error": error.message}, status=error.status))
    context = {
        "approval": approval,
        "decided": decided,
        "problem": None if decided is not None else approval_problem(approval),
        "database_name": approval.database,
    }
    return page_protect(render(request, _TEMPLATE, context))
