"""Fixtures of the deployment tests; the machinery lives in deploy_harness.py."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcpsite.liveserver import free_port, process_stop
from tests.deploy.deploy_harness import NginxSite, make_letsencrypt_dir, render_site, start_app, start_nginx


@pytest.fixture(scope="session")
def letsencrypt_dir(tmp_path_factory) -> Path:
    return make_letsencrypt_dir(tmp_path_factory.mktemp("letsencrypt"))


@pytest.fixture
def nginx_site(tmp_path, letsencrypt_dir) -> Callable[[int], NginxSite]:
    """Render the real nginx configuration with the app upstream on the given loopback port."""

    def render(upstream_port: int) -> NginxSite:
        prefix = tmp_path / f"nginx-{upstream_port}"
        return render_site(prefix, letsencrypt=letsencrypt_dir, upstream_port=upstream_port)

    return render


@pytest.fixture
def run_nginx(nginx_site) -> Iterator[Callable[[int], NginxSite]]:
    """Start nginx in the foreground on the real configuration; stopped after the test."""
    processes = []

    def start(upstream_port: int) -> NginxSite:
        site = nginx_site(upstream_port)
        processes.append(start_nginx(site))
        return site

    try:
        yield start
    finally:
        for process in processes:
            process_stop(process, sig=signal.SIGQUIT)


@dataclass
class AppServer:
    port: int
    env: dict[str, str]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory) -> Iterator[AppServer]:
    """The real app on a loopback port, started by docker/entrypoint.sh as in the image."""
    port = free_port()
    process, env = start_app(tmp_path_factory.mktemp("var"), port)
    try:
        yield AppServer(port=port, env=env)
    finally:
        process_stop(process)
