"""/health: what the server serves and whether the SQL target answers; 503 when it does not; never a credential."""

from __future__ import annotations

import time

import pytest

import mcpsite.health
import sqltools.login
from mcpsite.liveserver import free_port  # nothing listens there once the probe socket is closed

# The healthy case probes the test copy of the target; the unreachable target is an alias added for one
# test, which Django's test-case isolation would refuse, so alias_for opens the blocker for it.
uses_target = pytest.mark.django_db(transaction=True, databases="__all__")

SECRET = "s3cret-Target-Pa55word"
USER = "target_login_name"


@pytest.fixture(autouse=True)
def fresh_probe(monkeypatch):
    """The probe result is cached for 2 s, the login's privileges for longer: every test starts without them."""
    monkeypatch.setattr(mcpsite.health, "_last", None)
    monkeypatch.setattr(sqltools.login, "_remembered", {})


def test_a_slow_probe_is_remembered_from_when_it_answered(client, monkeypatch):
    probes = []

    def slow(alias):
        probes.append(alias)
        time.sleep(0.3)
        return {"reachable": True, "latency_ms": 300.0}

    monkeypatch.setattr(mcpsite.health, "target_probe", slow)
    monkeypatch.setattr(mcpsite.health, "_CACHE_SECONDS", 0.2)  # shorter than the probe itself
    client.get("/health")
    client.get("/health")
    assert len(probes) == 1


@pytest.fixture
def unreachable_target(sqltools_config, alias_for):
    """A PostgreSQL target on a port nobody listens on, registered for this test only."""
    port = free_port()
    config = {"ENGINE": "django.db.backends.postgresql", "NAME": "sales_dw", "HOST": "127.0.0.1", "PORT": port,
              "USER": USER, "PASSWORD": SECRET, "OPTIONS": {"connect_timeout": 2}}
    sqltools_config(ALIAS=alias_for(config, name="target_unreachable"))
    return port


@uses_target
def test_health_reports_a_healthy_server(client):
    response = client.get("/health")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert {"status", "transport", "oauth", "database", "mcp_version", "read_only", "target"} <= set(body)
    assert body["status"] == "healthy"
    assert body["target"]["reachable"] is True and body["target"]["latency_ms"] >= 0
    assert body["read_only"] is True and body["oauth"] == "enabled"
    assert "streamable-http" in body["transport"] and body["mcp_version"] in body["mcp_versions"]
    assert body["database_vendor"] == "sqlite"


@uses_target
def test_health_follows_read_only_mode(client, sqltools_config):
    sqltools_config(READ_ONLY=False)
    assert client.get("/health").json()["read_only"] is False


def test_health_is_degraded_when_the_target_does_not_answer(client, unreachable_target):
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["target"]["reachable"] is False and body["target"]["error"]
    assert body["database"] == "sales_dw" and body["database_vendor"] == "postgresql"


def test_health_never_shows_a_credential_or_host(client, unreachable_target):
    text = client.get("/health").content.decode()
    for leak in (SECRET, USER, "127.0.0.1", str(unreachable_target), "password", "Pa55"):
        assert leak not in text


def test_health_caches_the_probe_briefly(client, unreachable_target, monkeypatch):
    assert client.get("/health").status_code == 503
    calls = []
    monkeypatch.setattr(mcpsite.health, "target_probe", lambda alias: calls.append(alias) or {"reachable": True})
    assert client.get("/health").status_code == 503 and calls == []  # still the cached answer
    monkeypatch.setattr(mcpsite.health, "_last", None)
    assert client.get("/health").status_code == 200 and calls == ["target_unreachable"]


@uses_target
def test_health_says_whether_the_login_can_write_and_asks_once(client, monkeypatch):
    assert client.get("/health").json()["login_read_only"] is False  # the in-memory test target can be written
    asked = []
    monkeypatch.setattr(sqltools.login, "login_privileges", lambda alias: asked.append(alias))
    monkeypatch.setattr(mcpsite.health, "_last", None)
    assert client.get("/health").json()["login_read_only"] is False and asked == []  # remembered, not asked again


def test_health_does_not_know_the_login_of_a_target_that_does_not_answer(client, unreachable_target):
    body = client.get("/health").json()
    assert body["login_read_only"] is None and body["target"]["error"] == "unreachable"


def test_a_degraded_target_is_logged_once_per_change_not_per_probe(client, unreachable_target, monkeypatch, caplog):
    monkeypatch.setattr(mcpsite.health, "_state", None)
    caplog.set_level("INFO")
    for _ in range(3):
        monkeypatch.setattr(mcpsite.health, "_last", None)  # a fresh probe each time
        response = client.get("/health")
        assert response.status_code == 503 and response.json()["status"] == "degraded"
        assert response.json()["target"]["error"] == "unreachable"
    lines = [r for r in caplog.records if r.name == "mcpsite.health"]
    assert len(lines) == 1 and "is unreachable" in lines[0].getMessage() and lines[0].levelname == "WARNING"
    assert not [r for r in caplog.records if r.name == "django.request"]  # no ERROR line per 503 probe
    monkeypatch.setattr(mcpsite.health, "target_probe", lambda alias: {"reachable": True, "latency_ms": 1.0})
    monkeypatch.setattr(mcpsite.health, "_last", None)
    assert client.get("/health").status_code == 200
    lines = [r for r in caplog.records if r.name == "mcpsite.health"]
    assert len(lines) == 2 and "answers again" in lines[1].getMessage()


def test_a_probe_without_an_answer_is_the_timeout_category(client, monkeypatch, db):
    def hangs(alias):
        time.sleep(0.5)
        return {"reachable": True}

    monkeypatch.setattr(mcpsite.health, "target_probe", hangs)
    monkeypatch.setattr(mcpsite.health, "_TARGET_CHECK_SECONDS", 0.1)
    body = client.get("/health").json()
    assert body["status"] == "degraded" and body["target"] == {"reachable": False, "error": "timeout"}
