"""Log records as one-line JSON for production, and the filter that keeps credentials out of every line.

At DEBUG, oauthlib logs authorization codes ("Created authorization code grant {'code': …}"),
issued token dicts and refresh tokens ("Validating refresh token …"), DOT logs the redirect
carrying the code ("Success url for the request: …?code=…"), and with oauthlib.set_debug(True)
request bodies carry code, code_verifier and client_secret (oauthlib's own sanitizer only knows
`password` and `*token*`). RedactSecrets sits on the handlers in settings.LOGGING, so it sees
every record any logger sends there, and rewrites the formatted message (and any traceback)
before a formatter writes it: a secret-named parameter keeps its name and loses its value, an
Authorization credential loses its value, and so does any value shaped like what the token and
secret generators make.
"""

from __future__ import annotations

import json
import logging
import re

REDACTED = "[redacted]"
SECRET_NAMES = (
    "code", "code_verifier", "access_token", "refresh_token", "id_token", "token", "client_secret",
    "registration_access_token", "password", "assertion", "device_code",
)
# name=value (form bodies, query strings), 'name': 'value' (reprs), "name": "value" (JSON), name: value.
_NAMED = re.compile(
    r"""(\b(?:%s)\b['"]?\s*[=:]\s*['"]?)[^\s'"&,;)}\]>]+""" % "|".join(SECRET_NAMES), re.IGNORECASE
)
_AUTHORIZATION = re.compile(r"\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
# oauthlib's generate_token (codes, access and refresh tokens): 30 characters of [A-Za-z0-9]; DOT's
# client secrets and registration tokens: CLIENT_SECRET_GENERATOR_LENGTH (128) of the same.
_TOKEN_SHAPED = re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z0-9]{30}|[A-Za-z0-9]{100,})(?![A-Za-z0-9])")


def secrets_redact(text: str) -> str:
    text = _NAMED.sub(rf"\1{REDACTED}", text)
    text = _AUTHORIZATION.sub(rf"\1\2{REDACTED}", text)
    return _TOKEN_SHAPED.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """Attached to every handler in settings.LOGGING; never drops a record, only rewrites it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message, broken = record.getMessage(), False
        except Exception:  # a broken format string: logging's error report would print msg and args raw
            message, broken = f"{record.msg} {record.args}", True
        redacted = secrets_redact(message)
        if broken or redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = secrets_redact(record.exc_text)
        if record.stack_info:
            record.stack_info = secrets_redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            payload["exc"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, default=str)
