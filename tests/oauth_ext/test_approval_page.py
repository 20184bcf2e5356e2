"""The approval page in a real browser (Playwright driving Debian's chromium): approve, decline, expired, another
user's, replayed, unknown; CSRF-protected and framed nowhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sqltools.approvals import approval_request
from sqltools.models import Approval, AuditEntry
from tests.oauth_ext.oauth_testing import PASSWORD
from tests.oauth_ext.test_consent import browser  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "UPDATE orders SET status = 'held' WHERE order_id = 7"


@pytest.fixture
def approval(user) -> Approval:
    return approval_request(user_id=user.pk, client_id="claude-client-1", client_name="Claude", alias="target",
                            sql=SQL, reason="write", plan=None, tables=["orders"])


def _open(page, live_server, approval_id, username: str = "analyst"):
    response = page.goto(f"{live_server.url}/approvals/{approval_id}")
    if "/accounts/login/" in page.url:
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        response = page.goto(f"{live_server.url}/approvals/{approval_id}")
    return response


def test_the_user_sees_the_statement_and_approves(browser, live_server, approval):  # noqa: F811
    page = browser.new_page()
    response = _open(page, live_server, approval.pk)
    assert response.status == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "Claude" in page.get_by_role("heading", level=1).inner_text()
    body = page.locator("main").inner_text()
    assert SQL in body and "orders" in body and "It changes data" in body and "analyst" in body
    assert "no estimate" in body  # the database could not estimate this write: said, not hidden
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Approved"
    assert "ask it to run the statement again" in page.locator("main").inner_text()
    assert Approval.objects.get(pk=approval.pk).status == "approved"
    entry = AuditEntry.objects.get(tool="approval")
    assert (entry.outcome, entry.username, entry.client_id, entry.sql) == (
        "approved",
        "analyst",
        "claude-client-1",
        SQL,
    )
    assert entry.message.startswith("Approved by analyst at ")

    page.go_back()  # the page is not cached: it is asked for again, and offers no second click
    assert "already approved" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("button", name="Approve").count() == 0
    replay = Client()  # the form posted again, as a replaying client would
    replay.force_login(approval.user)
    response = replay.post(f"/approvals/{approval.pk}", {"decision": "approve"})
    assert response.status_code == 409 and b"already approved" in response.content
    assert AuditEntry.objects.filter(tool="approval").count() == 1


def test_decline(browser, live_server, approval):  # noqa: F811
    page = browser.new_page(java_script_enabled=False)  # the page needs no JavaScript
    _open(page, live_server, approval.pk)
    page.get_by_role("button", name="Decline").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Declined"
    assert Approval.objects.get(pk=approval.pk).status == "declined"
    assert AuditEntry.objects.get(tool="approval").outcome == "declined"


def test_an_expired_approval_offers_no_button(browser, live_server, approval):  # noqa: F811
    Approval.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    page = browser.new_page()
    _open(page, live_server, approval.pk)
    assert "expired" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("button", name="Approve").count() == 0


def test_another_users_approval_is_refused(browser, live_server, approval, reader):  # noqa: F811
    page = browser.new_page()
    response = _open(page, live_server, approval.pk, username="reader")
    assert response.status == 403
    assert "another user" in page.get_by_role("alert").inner_text()
    assert SQL not in page.locator("main").inner_text()  # nothing of the statement is shown to them


def test_an_unknown_link(browser, live_server, user):  # noqa: F811
    page = browser.new_page()
    response = _open(page, live_server, "00000000-0000-0000-0000-000000000000")
    assert response.status == 404 and "no approval at this link" in page.get_by_role("alert").inner_text()


def test_a_post_without_the_csrf_token_decides_nothing(approval, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(f"/approvals/{approval.pk}", {"decision": "approve"})
    assert response.status_code == 403 and Approval.objects.get(pk=approval.pk).status == "pending"


def test_signed_out_visitors_are_sent_to_sign_in(approval):
    response = Client().get(f"/approvals/{approval.pk}")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("form", [{}, {"decision": "yes"}, {"decision": ""}])
def test_a_post_without_a_known_decision_decides_nothing(approval, user, form):
    client = Client()
    client.force_login(user)
    response = client.post(f"/approvals/{approval.pk}", form)
    assert response.status_code == 400 and b"nothing was decided" in response.content
    assert Approval.objects.get(pk=approval.pk).status == "pending"
