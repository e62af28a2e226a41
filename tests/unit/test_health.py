"""/healthz and /readyz follow the event loop; /metrics keeps serving the registry."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry, Counter

from streams.health import Heartbeat, serve


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
