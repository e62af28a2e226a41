"""The worker's HTTP endpoint: ``/metrics`` for Prometheus, ``/healthz`` and ``/readyz`` for probes.

``/metrics`` alone is a poor liveness probe: it is served from its own thread and keeps answering
while the event loop that consumes Kafka is stuck. ``/healthz`` answers 200 only while the loop
has ticked recently; ``/readyz`` also needs the Faust worker to have started and no reason to be
not ready (:class:`Readiness`: broker unreachable, input topic missing, start-up checks running).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[..., Any]


class Readiness:
    """Named reasons the worker cannot do its work now; ready when there are none.

    Set and cleared on the event loop, read by the probe thread (a dict swap is atomic).
    """

    def __init__(self) -> None:
        self._reasons: dict[str, str] = {}

    def not_ready(self, name: str, why: str) -> None:
        if self._reasons.get(name) != why:
            self._reasons = {**self._reasons, name: why}

    def clear(self, name: str) -> None:
        if name in self._reasons:
            self._reasons = {k: v for k, v in self._reasons.items() if k != name}

    def reasons(self) -> dict[str, str]:
        return self._reasons


#: the worker process's readiness: one worker per process, shared by the agent and the probes
READINESS = Readiness()


class Heartbeat:
    """Ticked by the event loop; read by the probe thread."""

    def __init__(self, stale_after_s: float, readiness: Readiness | None = None) -> None:
        self.stale_after_s = stale_after_s
        self._last = 0.0
        self.ready = False  # the app started (ticking)
        self.readiness = READINESS if readiness is None else readiness

    def beat(self) -> None:
        self._last = time.monotonic()
        self.ready = True

    def alive(self) -> bool:
        # before the first tick the worker is starting: alive (readiness says it is not ready)
        return self._last == 0.0 or time.monotonic() - self._last < self.stale_after_s

    def age_s(self) -> float:
        return time.monotonic() - self._last if self._last else 0.0


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes and scrapes every few seconds must not fill the log."""


def health_app(
    registry: CollectorRegistry, heartbeat: Heartbeat
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            reasons = heartbeat.readiness.reasons()
            ready = heartbeat.ready and not reasons
            ok = heartbeat.alive() and (path == "/healthz" or ready)
            why = "".join(f"; {name}: {text}" for name, text in sorted(reasons.items()))
            body = (
                f"{'ok' if ok else 'unhealthy'}: event loop last ticked {heartbeat.age_s():.1f}s ago, "
                f"ready={ready}{why}\n"
            ).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")]
            )
            return [body]
        return metrics(environ, start_response)

    return app


def serve(host: str, port: int, registry: CollectorRegistry, heartbeat: Heartbeat) -> WSGIServer:
    """Serve in a daemon thread; raises OSError if the address is taken."""
    server = make_server(
        host, port, health_app(registry, heartbeat), _Server, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="flagstream-http", daemon=True).start()
    return server
