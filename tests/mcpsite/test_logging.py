"""No credential reaches a log line: a whole OAuth flow at DEBUG through the product's own LOGGING."""

from __future__ import annotations

import base64
import copy
import io
import logging
import logging.config
import sys

import oauthlib
import pytest
from django.db import connection
from django.test import Client
from oauthlib.common import generate_token

from mcpsite import settings as product_settings
from mcpsite.logging import REDACTED, RedactSecrets, secrets_redact
from tests.oauth_ext.oauth_testing import CHATGPT_REDIRECT, PASSWORD, OAuthHelper, Pkce

CODE, TOKEN, SECRET = generate_token(), generate_token(), generate_token(128)
VERIFIER = Pkce.make().verifier
CLIENT_ID = "Xk3Lr9AbCdEfGhIjKlMnOpQrStUvWxYz01234567"  # DOT's 40-character client ids are not secrets


@pytest.fixture
def product_logging():
    """Apply settings.LOGGING as the product does, every logger at DEBUG, into a buffer; restore afterwards."""
    loggers = [logging.getLogger(name) for name in (None, *product_settings.LOGGING["loggers"])]
    saved = [(logger, logger.level, logger.handlers[:], logger.propagate) for logger in loggers]
    buffer = io.StringIO()

    def apply(formatter: str) -> io.StringIO:
        config = copy.deepcopy(product_settings.LOGGING)
        config["handlers"]["stdout"].update(stream=buffer, formatter=formatter)
        for logger in (config["root"], *config["loggers"].values()):
            logger["level"] = "DEBUG"
        logging.config.dictConfig(config)
        return buffer

    yield apply
    for logger, level, handlers, propagate in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


@pytest.fixture
def sql_and_oauthlib_debug(request):
    """SQL statements logged as under DEBUG=True, and oauthlib's request bodies in its reprs (set_debug)."""
    connection.force_debug_cursor, debug = True, oauthlib.get_debug()
    oauthlib.set_debug(request.param)
    yield
    connection.force_debug_cursor = False
    oauthlib.set_debug(debug)


def _flow(django_user_model) -> list[str]:
    """Sign in, register, authorize, exchange, refresh, revoke, and the refusals; return every secret seen."""
    django_user_model.objects.create_user(username="analyst", password=PASSWORD)
    browser = OAuthHelper(Client())
    assert browser.client.post("/accounts/login/", {"username": "analyst", "password": PASSWORD}).status_code == 302
    app = browser.register(redirect_uris=[CHATGPT_REDIRECT], token_endpoint_auth_method="client_secret_post")
    secret, pkce, other_pkce = app["client_secret"], Pkce.make(), Pkce.make()
    code, other_code = browser.code(app, pkce), browser.code(app, other_pkce)
    first = browser.exchange(app, code, pkce, client_secret=secret).json()
    refreshed = browser.refresh(app, first["refresh_token"], client_secret=secret).json()
    basic = base64.b64encode(f"{app['client_id']}:{secret}".encode()).decode()
    revoked = browser.client.post("/revoke", {"token": refreshed["refresh_token"], "token_type_hint": "refresh_token"},
                                  HTTP_AUTHORIZATION=f"Basic {basic}")
    assert revoked.status_code == 200
    # Refusals are where libraries log what they refused.
    assert browser.refresh(app, first["refresh_token"], client_secret=secret).status_code == 400
    assert browser.exchange(app, code, pkce, client_secret=secret).status_code == 400
    assert browser.exchange(app, other_code, pkce, client_secret=secret).status_code == 400  # wrong verifier
    return [PASSWORD, secret, code, other_code, pkce.verifier, other_pkce.verifier, basic, *first.values(),
            *refreshed.values()]


@pytest.mark.django_db
@pytest.mark.parametrize(("formatter", "sql_and_oauthlib_debug"), [("plain", False), ("json", True)],
                         indirect=["sql_and_oauthlib_debug"])
def test_a_whole_oauth_flow_at_debug_logs_no_secret(product_logging, sql_and_oauthlib_debug, django_user_model,
                                                    formatter):
    buffer = product_logging(formatter)
    secrets = [value for value in _flow(django_user_model) if isinstance(value, str) and len(value) >= 20]
    output = buffer.getvalue()
    # The lines that carried secrets before the filter were written, with the secrets taken out.
    for line in ("Created authorization code grant", "Success url for the request", "Validating refresh token",
                 "Issuing new token to client id", "INSERT INTO"):
        assert line in output
    assert len(secrets) >= 10 and [secret for secret in secrets if secret in output] == []
    assert REDACTED in output


@pytest.mark.parametrize(("line", "kept"), [
    # oauthlib's own format strings, with what it passes them
    ("Created authorization code grant %r for request %r." % ({"code": CODE, "state": "xyz"}, "<req>"), "state"),
    ("Issuing new token to client id %r (%r), %r." % (CLIENT_ID, "app", {"access_token": TOKEN, "refresh_token": TOKEN,
                                                                          "token_type": "Bearer"}), CLIENT_ID),
    (f"Validating refresh token {TOKEN} for client <Application: Claude>.", "Validating refresh token"),
    (f"Invalid refresh token, {TOKEN}, for client <Application: Claude>.", "Invalid refresh token"),
    # DOT's redirect after consent; an oauthlib.set_debug request body; headers; JSON
    (f"Success url for the request: https://claude.ai/cb?code={CODE}&state=xyz", "state=xyz"),
    (f"grant_type=authorization_code&code={CODE}&code_verifier={VERIFIER}&client_secret={SECRET}", "grant_type"),
    (f"Authorization: Bearer {VERIFIER}", "Authorization: Bearer"),
    (f"Authorization: basic {base64.b64encode(f'{CLIENT_ID}:{SECRET}'.encode()).decode()}", "Authorization"),
    (f'{{"password": "hunter2hunter2", "registration_access_token": "{SECRET}"}}', '"password"'),
    (f"GET /mcp?access_token={VERIFIER} HTTP/1.1", "GET /mcp?access_token="),
    (f"client secret {SECRET} in prose", "in prose"),
])
def test_known_secret_carrying_lines_are_redacted(line, kept):
    redacted = secrets_redact(line)
    assert kept in redacted and REDACTED in redacted
    for secret in (CODE, TOKEN, SECRET, VERIFIER, "hunter2hunter2"):
        assert secret not in redacted


@pytest.mark.parametrize("line", [
    f"Refused disabled client {CLIENT_ID}",
    "Authorization code grant with response_type=code and code_challenge_method=S256",
    "Bad Request: /token (status code 400)",
    "Issued an access token for analyst via Claude (scope sql:read)",
])
def test_ordinary_lines_are_left_alone(line):
    assert secrets_redact(line) == line


def test_tracebacks_and_broken_format_strings_are_redacted_too():
    try:
        raise ValueError(f"bad body code={CODE}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", (TOKEN,), sys.exc_info())
    broken = logging.LogRecord("x", logging.ERROR, __file__, 1, "two %s %s", (f"code={CODE}",), None)
    for rec in (record, broken):
        assert RedactSecrets().filter(rec)
        text = logging.Formatter().format(rec)
        assert CODE not in text and TOKEN not in text and REDACTED in text
