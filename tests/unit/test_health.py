"""/healthz and /readyz follow the event loop; /metrics serves the registry; the port is bounded."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from streams.health import (
    Heartbeat,
    HttpAccess,
    HttpLimits,
    HttpServer,
    Readiness,
    access_from_settings,
    serve,
)
from streams.settings import load_settings
from tests.integration.tls import make_broker_tls


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("flagstream_probe_total", "a metric", registry=registry).inc()
    return registry


def _status(base: str, path: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def _raw(port: int, request: bytes) -> bytes:
    """The status line the server answers ``request`` with."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


@pytest.fixture
def started(registry: CollectorRegistry) -> Iterator[tuple[HttpServer, Heartbeat]]:
    heartbeat = Heartbeat(stale_after_s=60, readiness=Readiness())
    server = serve("127.0.0.1", 0, registry, heartbeat, HttpLimits(max_connections=16))
    yield server, heartbeat
    server.close()


def test_health_endpoints_follow_the_event_loop(registry: CollectorRegistry) -> None:
    heartbeat = Heartbeat(stale_after_s=0.2, readiness=Readiness())
    server = serve("127.0.0.1", 0, registry, heartbeat)
    base = f"http://127.0.0.1:{server.address[1]}"
    try:
        assert (_status(base, "/healthz"), _status(base, "/readyz")) == (200, 503)  # starting
        heartbeat.beat()
        assert (_status(base, "/healthz"), _status(base, "/readyz")) == (200, 200)
        time.sleep(0.3)  # the loop stopped ticking
        assert (_status(base, "/healthz"), _status(base, "/readyz")) == (503, 503)
        with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
            assert b"flagstream_probe_total 1.0" in response.read()
    finally:
        server.close()


def test_readyz_names_every_reason_the_worker_is_not_ready(
    started: tuple[HttpServer, Heartbeat],
) -> None:
    server, heartbeat = started
    base = f"http://127.0.0.1:{server.address[1]}"
    readiness = heartbeat.readiness
    heartbeat.beat()
    assert _status(base, "/readyz") == 200
    readiness.not_ready("broker", "no broker answered for 4 s")
    readiness.not_ready("input_topic", "topic 'events' does not exist")
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(base + "/readyz", timeout=5)
    body = failed.value.read()
    failed.value.close()
    assert failed.value.code == 503
    assert b"broker: no broker answered" in body
    assert b"input_topic: topic 'events'" in body
    assert _status(base, "/healthz") == 200  # alive: the supervisor must not restart it
    readiness.clear("broker")
    readiness.clear("input_topic")
    readiness.clear("never set")
    assert _status(base, "/readyz") == 200


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
        (b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
        (b"GET /metrics/extra HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
        (b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b"405"),
        (b"DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
        (b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", b"431"),
        (b"GET /metrics HTTP/1.1\r\nX-A: " + b"b" * 9000 + b"\r\n\r\n", b"431"),
        (b"NOT-HTTP\r\n\r\n", b"400"),
        (b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", b"200"),
    ],
)
def test_only_three_paths_and_bounded_requests(
    started: tuple[HttpServer, Heartbeat], request_bytes: bytes, status: bytes
) -> None:
    server, _ = started
    assert _raw(server.address[1], request_bytes).split(b" ")[1] == status


def test_metrics_basic_auth(registry: CollectorRegistry) -> None:
    heartbeat = Heartbeat(stale_after_s=60, readiness=Readiness())
    access = HttpAccess("prometheus", "s3cret-scrape")
    server = serve("127.0.0.1", 0, registry, heartbeat, access=access)
    base = f"http://127.0.0.1:{server.address[1]}"

    def auth(user_password: bytes) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(user_password).decode()}

    try:
        assert _status(base, "/metrics") == 401
        assert _status(base, "/metrics", auth(b"prometheus:wrong")) == 401
        assert _status(base, "/metrics", {"Authorization": "Basic !!!"}) == 401
        assert _status(base, "/metrics", auth(b"prometheus:s3cret-scrape")) == 200
        assert _status(base, "/healthz") == 200  # probes stay open: they carry no data
    finally:
        server.close()


def test_an_idle_connection_is_closed_after_the_connection_timeout(
    registry: CollectorRegistry,
) -> None:
    heartbeat = Heartbeat(stale_after_s=60, readiness=Readiness())
    server = serve("127.0.0.1", 0, registry, heartbeat, HttpLimits(connection_timeout_s=0.5))
    try:
        with socket.create_connection(("127.0.0.1", server.address[1]), timeout=10) as sock:
            sock.sendall(b"GET /metr")  # half a request line, then silence
            assert sock.recv(1024) == b""  # closed by the server, not by our 10 s timeout
    finally:
        server.close()


def test_thousands_of_idle_connections_keep_threads_and_fds_bounded(
    started: tuple[HttpServer, Heartbeat],
) -> None:
    server, heartbeat = started
    heartbeat.beat()
    port = server.address[1]
    cap = server.limits.max_connections
    fds_before = len(os.listdir("/proc/self/fd"))
    threads_before = threading.active_count()
    idle: list[socket.socket] = []
    try:
        idle.extend(socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2_000))
        # let the server accept the backlog (bounded wait)
        deadline = time.monotonic() + 30
        while server.protocol.evicted < 2_000 - cap and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.open_connections() <= cap
        assert threading.active_count() == threads_before  # no thread per connection
        server_fds = len(os.listdir("/proc/self/fd")) - fds_before - len(idle)
        assert server_fds <= cap + 8
        assert _status(f"http://127.0.0.1:{port}", "/healthz") == 200
    finally:
        for sock in idle:
            sock.close()


def test_the_port_over_https_with_the_configured_certificate(
    registry: CollectorRegistry, tmp_path: Path
) -> None:
    tls = make_broker_tls(tmp_path)  # a certificate for 127.0.0.1, its key in the same file
    settings = load_settings(metrics_tls_cert_file=tls.keystore, metrics_tls_key_file=tls.keystore)
    heartbeat = Heartbeat(stale_after_s=60, readiness=Readiness())
    server = serve("127.0.0.1", 0, registry, heartbeat, access=access_from_settings(settings))
    port = server.address[1]
    try:
        trusted = ssl.create_default_context(cafile=str(tls.ca_file))
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/metrics", timeout=5, context=trusted
        ) as response:
            assert b"flagstream_probe_total 1.0" in response.read()
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(
                f"https://127.0.0.1:{port}/metrics",
                timeout=5,
                context=ssl.create_default_context(cafile=str(tls.other_ca_file)),
            )
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)  # no plain HTTP
    finally:
        server.close()
