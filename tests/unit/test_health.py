"""/healthz and /readyz follow the event loop; /metrics keeps serving the registry."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry, Counter

from streams.health import Heartbeat, Readiness, health_app, serve


def test_health_endpoints_follow_the_event_loop() -> None:
    registry = CollectorRegistry()
    Counter("flagstream_probe_total", "a metric", registry=registry).inc()
    heartbeat = Heartbeat(stale_after_s=0.2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = serve("127.0.0.1", port, registry, heartbeat)
    base = f"http://127.0.0.1:{port}"

    def status(path: str) -> int:
        try:
            with urllib.request.urlopen(base + path, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    try:
        assert (status("/healthz"), status("/readyz")) == (200, 503)  # starting
        heartbeat.beat()
        assert (status("/healthz"), status("/readyz")) == (200, 200)
        time.sleep(0.3)  # the loop stopped ticking
        assert (status("/healthz"), status("/readyz")) == (503, 503)
        with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
            assert b"flagstream_probe_total 1.0" in response.read()
    finally:
        server.shutdown()
        server.server_close()


def test_readyz_names_every_reason_the_worker_is_not_ready() -> None:
    readiness = Readiness()
    heartbeat = Heartbeat(stale_after_s=60, readiness=readiness)
    app = health_app(CollectorRegistry(), heartbeat)
    seen: list[str] = []

    def get(path: str) -> tuple[str, bytes]:
        body = b"".join(app({"PATH_INFO": path}, lambda status, headers: seen.append(status)))
        return seen[-1], body

    heartbeat.beat()
    assert get("/readyz")[0].startswith("200")
    readiness.not_ready("broker", "no broker answered for 4 s")
    readiness.not_ready("input_topic", "topic 'events' does not exist")
    status, body = get("/readyz")
    assert status.startswith("503")
    assert b"broker: no broker answered" in body
    assert b"input_topic: topic 'events'" in body
    assert get("/healthz")[0].startswith("200")  # alive: the supervisor must not restart it
    readiness.clear("broker")
    readiness.clear("input_topic")
    readiness.clear("never set")
    assert get("/readyz")[0].startswith("200")
