"""The sign-in, consent and "your connections" pages in a real browser: Playwright driving Debian's chromium.

The client's redirect URI is a loopback URL nothing listens on; the browser's request to it is
intercepted and answered, and the test reads the authorization response from the URL.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client

from mcpsite.liveserver import free_port
from tests.oauth_ext.oauth_testing import PASSWORD, OAuthHelper, Pkce, params_of
from tests.services import CHROMIUM, require

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]



@pytest.fixture
def browser(monkeypatch):
    require("chromium")
    # Playwright's sync API keeps an event loop running in this thread; the ORM work here is
    # done before it starts, and the live server answers requests in its own thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def connector(user) -> tuple[dict, str]:
    """A client registered with a loopback callback; returns it and the callback URL."""
    callback = f"http://127.0.0.1:{free_port()}/cb"
    return OAuthHelper(Client()).register(client_name="Test Connector", redirect_uris=[callback]), callback


def _authorize_url(live_server, app: dict, callback: str, pkce: Pkce | None = None) -> str:
    pkce = pkce or Pkce.make()
    query = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": callback, "state": "s-42",
             "code_challenge": pkce.challenge, "code_challenge_method": "S256", "scope": "sql:read sql:write",
             "resource": f"{live_server.url}/mcp"}
    return f"{live_server.url}/authorize?{urlencode(query)}"


def _open_consent(page, live_server, app: dict, callback: str, pkce: Pkce | None = None):
    page.route(f"{callback}**", lambda route: route.fulfill(status=200, content_type="text/plain", body="callback"))
    page.goto(_authorize_url(live_server, app, callback, pkce))
    if "/accounts/login/" in page.url:
        page.get_by_label("Username").fill("analyst")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/authorize?**")


def test_sign_in_see_the_request_and_allow(browser, live_server, connector):
    app, callback = connector
    page = browser.new_page()
    _open_consent(page, live_server, app, callback)
    heading = page.get_by_role("heading", level=1).inner_text()
    assert "Test Connector" in heading
    body = page.locator("main").inner_text()
    assert "sql:read" in body and "sql:write" in body and "analyst" in body and "127.0.0.1" in body
    assert "read data with queries that change nothing" in body
    assert page.evaluate("getComputedStyle(document.body).display") == "grid"  # site.css is served

    page.keyboard.press("Tab")  # keyboard users reach Allow first, then Deny
    assert page.evaluate("document.activeElement.textContent.trim()") == "Allow"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Deny"

    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{callback}?**")
    params = params_of(page.url)
    assert params["code"] and params["state"] == "s-42" and params["iss"] == live_server.url


def test_deny_lands_on_the_redirect_with_access_denied(browser, live_server, connector):
    app, callback = connector
    page = browser.new_page(java_script_enabled=False)  # the page needs no JavaScript
    _open_consent(page, live_server, app, callback)
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(f"{callback}?**")
    params = params_of(page.url)
    assert params["error"] == "access_denied" and params["state"] == "s-42" and "code" not in params


def test_the_write_scope_is_marked_in_words_and_colour(browser, live_server, connector):
    app, callback = connector
    page = browser.new_page()
    _open_consent(page, live_server, app, callback)
    read, write = page.locator("li.scope").nth(0), page.locator("li.scope").nth(1)
    assert "sql:read" in read.inner_text() and "Can change data" not in read.inner_text()
    assert "sql:write" in write.inner_text() and "Can change data" in write.inner_text()  # words, not colour alone
    assert page.get_by_text("Can change data").is_visible()
    style = "el => [getComputedStyle(el).borderLeftStyle, getComputedStyle(el).borderLeftColor]"
    assert read.evaluate(style)[0] == "none" and write.evaluate(style)[0] == "solid"
    flag = page.locator(".write-flag")
    assert flag.evaluate("el => getComputedStyle(el).backgroundColor") != page.evaluate(
        "getComputedStyle(document.querySelector('main')).backgroundColor")
    later = page.get_by_role("link", name="your connections")
    assert later.get_attribute("href") == f"{live_server.url}/connections/"


def test_your_connections_lists_the_client_and_revoking_stops_its_token(browser, live_server, connector):
    from mcp_bridge.verifier import token_check

    app, callback = connector
    pkce = Pkce.make()
    page = browser.new_page()
    _open_consent(page, live_server, app, callback, pkce)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{callback}?**")
    client = OAuthHelper(Client())
    tokens = client.exchange(app, params_of(page.url)["code"], pkce).json()
    assert token_check(tokens["access_token"]) is not None

    page.goto(f"{live_server.url}/connections/")
    card = page.locator("li.connection")
    assert card.count() == 1
    text = card.inner_text()
    assert "Test Connector" in text and "sql:write" in text and "can change data" in text and "Last used" in text
    page.get_by_role("button", name="Revoke access for Test Connector").click()
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/connections/"
    assert "Test Connector can no longer access the database for you." in page.get_by_role("status").inner_text()
    assert page.locator("li.connection").count() == 0

    assert token_check(tokens["access_token"]) is None
    refused = client.refresh(app, tokens["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


def test_a_user_without_the_write_right_is_offered_and_issued_read_only(browser, live_server, connector, user):
    """The client asks for sql:read sql:write; a user who may not write sees and gets only sql:read."""
    from django.contrib.auth.models import Permission

    user.user_permissions.remove(Permission.objects.get(codename="write_sql", content_type__app_label="oauth_ext"))
    app, callback = connector
    pkce = Pkce.make()
    page = browser.new_page()
    _open_consent(page, live_server, app, callback, pkce)
    scopes = page.locator("li.scope")
    assert scopes.count() == 1 and "sql:read" in scopes.nth(0).inner_text()
    assert "Can change data" not in page.locator("main").inner_text()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{callback}?**")
    tokens = OAuthHelper(Client()).exchange(app, params_of(page.url)["code"], pkce).json()
    assert tokens["scope"] == "sql:read"
