"""nginx accepts the repository's configuration, and its TLS, redirect and size rules hold on the wire."""

from __future__ import annotations

import socket
import ssl
import subprocess

import pytest

from mcpsite.liveserver import free_port
from tests.deploy.deploy_harness import SECURITY_HEADERS, insecure_tls_context

pytestmark = pytest.mark.timeout(60)


def test_nginx_accepts_the_real_configuration(nginx_site):
    site = nginx_site(free_port())
    result = subprocess.run(site.command("-t"), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    # With a self-signed certificate (and Let's Encrypt's since 2025) there is no OCSP responder:
    # nginx says so and goes on. Anything else it warns about is a mistake in the configuration.
    warnings = [line for line in result.stderr.splitlines() if "[warn]" in line]
    unexpected = [w for w in warnings if "ssl_stapling" not in w and "worker_connections" not in w]
    assert not unexpected, unexpected


def test_http_redirects_to_https_but_serves_acme_challenges(run_nginx):
    site = run_nginx(free_port())
    challenge = site.webroot / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True)
    (challenge / "token-123").write_text("token-123.thumbprint")

    connection = site.http()
    connection.request("GET", "/.well-known/acme-challenge/token-123", headers={"Host": "mcp.test"})
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"token-123.thumbprint")

    connection.request("GET", "/authorize?client_id=abc&state=x", headers={"Host": "mcp.test"})
    response = connection.getresponse()
    response.read()
    assert response.status == 301
    assert response.getheader("Location") == "https://mcp.test/authorize?client_id=abc&state=x"

    connection.request("GET", "/nginx-health", headers={"Host": "mcp.test"})
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"ok\n")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_12_and_13_negotiate_forward_secret_aead_ciphers(run_nginx, version):
    site = run_nginx(free_port())
    context = insecure_tls_context()
    context.minimum_version = context.maximum_version = version
    with socket.create_connection(("127.0.0.1", site.https_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="mcp.test") as tls:
            assert tls.version() == version.name.replace("v1_", "v1.")
            cipher = tls.cipher()[0]
    assert "GCM" in cipher or "CHACHA20" in cipher
    if version is ssl.TLSVersion.TLSv1_2:
        assert cipher.startswith(("ECDHE-", "DHE-"))


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_below_12_is_refused_by_the_server(run_nginx):
    site = run_nginx(free_port())
    context = insecure_tls_context()
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # this client offers TLS 1.0 and 1.1
    with socket.create_connection(("127.0.0.1", site.https_port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError) as refused:
            context.wrap_socket(raw, server_hostname="mcp.test")
    assert "PROTOCOL_VERSION" in str(refused.value).upper(), refused.value


def test_request_bodies_over_one_megabyte_are_refused(run_nginx):
    site = run_nginx(free_port())  # nothing listens upstream: nginx must answer before proxying
    connection = site.https()
    connection.request("POST", "/token", body=b"x" * (1024 * 1024 + 1), headers={"Host": "mcp.test"})
    response = connection.getresponse()
    response.read()
    assert response.status == 413
    assert response.getheader("Strict-Transport-Security")


def test_nginx_error_pages_carry_the_security_headers(run_nginx):
    site = run_nginx(free_port())  # nothing listens upstream: 502 from nginx itself
    connection = site.https()
    connection.request("GET", "/admin/", headers={"Host": "mcp.test"})
    response = connection.getresponse()
    response.read()
    assert response.status == 502
    for header in SECURITY_HEADERS:
        assert response.getheader(header), header
