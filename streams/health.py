"""The worker's HTTP endpoint: ``/metrics`` for Prometheus, ``/healthz`` and ``/readyz`` for probes.

``/metrics`` alone is a poor liveness probe: it is served from its own thread and keeps answering
while the event loop that consumes Kafka is stuck. ``/healthz`` answers 200 only while the loop
has ticked recently; ``/readyz`` also needs the Faust worker to have started and no reason to be
not ready (:class:`Readiness`: broker unreachable, input topic missing, start-up checks running).

The port may face a hostile network, so the server is bounded (:class:`HttpLimits`): one thread
running one asyncio loop (aiohttp's protocol, no thread per connection), at most
``max_connections`` open at once — the oldest gives way to a new one, so a flood of idle
connections cannot keep a probe out —, every connection closed ``connection_timeout_s`` after it
opened and ``idle_timeout_s`` after its last answer, three paths (404 elsewhere), GET and HEAD
only (405), bounded request lines and headers. ``/metrics`` can require basic auth, and the
whole port can be served over TLS.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from streams.errors import ConfigError
from streams.settings import Settings


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


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one client, or many, can hold of the metrics port."""

    max_connections: int = 64
    connection_timeout_s: float = 10.0  # a connection's whole life: a slow sender is cut here
    idle_timeout_s: float = 2.0  # keep-alive after an answer
    max_line_bytes: int = 4096  # request target: 414 above
    max_header_bytes: int = 8190  # one header field: 431 above (a different size tells them apart)
    max_headers: int = 32
    backlog: int = 128


@dataclass(frozen=True, slots=True)
class HttpAccess:
    """Optional protection of the port: basic auth on ``/metrics``, TLS on everything."""

    username: str | None = None
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None

    def allows(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value grants ``/metrics`` (always, without auth)."""
        if self.username is None or self.password is None:
            return True
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        expected = f"{self.username}:{self.password}".encode()
        return hmac.compare_digest(given, expected)


def limits_from_settings(settings: Settings) -> HttpLimits:
    return HttpLimits(
        max_connections=settings.metrics_max_connections,
        connection_timeout_s=settings.metrics_connection_timeout_s,
    )


def access_from_settings(settings: Settings) -> HttpAccess:
    """Basic auth and TLS of the metrics port, as configured (neither by default)."""
    context = None
    if settings.metrics_tls_cert_file is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(
                str(settings.metrics_tls_cert_file), str(settings.metrics_tls_key_file)
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"metrics_tls_cert_file {settings.metrics_tls_cert_file} / metrics_tls_key_file "
                f"{settings.metrics_tls_key_file}: cannot load them ({exc}); fix the files"
            ) from None
    password = settings.metrics_password
    return HttpAccess(
        settings.metrics_username,
        None if password is None else password.get_secret_value(),
        context,
    )


PATHS = ("/metrics", "/healthz", "/readyz")
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def health_handler(
    registry: CollectorRegistry, heartbeat: Heartbeat, access: HttpAccess | None = None
) -> Handler:
    """The request handler: the three paths, nothing else."""
    guard = access or HttpAccess()

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path not in PATHS:
            return web.Response(status=404, text="not found: /metrics, /healthz or /readyz\n")
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": "GET, HEAD"})
        if path == "/metrics":
            if not guard.allows(request.headers.get("Authorization")):
                return web.Response(
                    status=401, headers={"WWW-Authenticate": 'Basic realm="flagstream"'}
                )
            encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
            return web.Response(body=encoder(registry), headers={"Content-Type": content_type})
        reasons = heartbeat.readiness.reasons()
        ready = heartbeat.ready and not reasons
        ok = heartbeat.alive() and (path == "/healthz" or ready)
        why = "".join(f"; {name}: {text}" for name, text in sorted(reasons.items()))
        body = (
            f"{'ok' if ok else 'unhealthy'}: event loop last ticked {heartbeat.age_s():.1f}s ago, "
            f"ready={ready}{why}\n"
        )
        return web.Response(status=200 if ok else 503, text=body)

    return handle


# malformed requests (an attacker's, mostly) are answered 400; their tracebacks must not flood
# the log: a logger of its own, outside the logging tree, disabled
_DISCARD = logging.Logger("flagstream.http.malformed")
_DISCARD.disabled = True


class _Handler(RequestHandler):
    """aiohttp's connection handler, answering 414 and 431 where aiohttp answers 400."""

    limits = HttpLimits()  # the server's, set when it makes the handler

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        limits = self.limits
        if isinstance(exc, LineTooLong):
            # the parser names the limit it hit: the request line's or a header field's
            status = 414 if exc.args[1] == limits.max_line_bytes else 431
        elif isinstance(exc, BadHttpMessage) and "headers" in str(exc).lower():
            status = 431
        return super().handle_error(request, status, exc, message)


class _BoundedServer(web.Server):
    """aiohttp's protocol factory, with a cap on open connections and a life-time per connection."""

    def __init__(self, handler: Handler, limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        # open connections, oldest first, with the timer that closes each
        self._open: dict[RequestHandler, tuple[asyncio.Transport, asyncio.TimerHandle]] = {}
        self.evicted = 0

    def __call__(self) -> RequestHandler:
        handler = _Handler(self, loop=self._loop, **self._kwargs)
        handler.limits = self.limits
        return handler

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        while len(self._open) >= self.limits.max_connections:
            # the oldest goes: a probe or a scrape sends its request at once and is answered
            # long before max_connections newer connections push it out
            _old, (old_transport, old_timer) = next(iter(self._open.items()))
            self._forget(_old)
            old_timer.cancel()
            old_transport.abort()
            self.evicted += 1
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.limits.connection_timeout_s, transport.abort)
        self._open[handler] = (transport, timer)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        entry = self._forget(handler)
        if entry is not None:
            entry[1].cancel()
        super().connection_lost(handler, exc)

    def _forget(
        self, handler: RequestHandler
    ) -> tuple[asyncio.Transport, asyncio.TimerHandle] | None:
        return self._open.pop(handler, None)

    def open_connections(self) -> int:
        return len(self._open)


class HttpServer:
    """The bounded server on its own thread and event loop; :meth:`close` stops both."""

    def __init__(
        self,
        sock: socket.socket,
        handler: Handler,
        limits: HttpLimits,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.address: tuple[str, int] = sock.getsockname()[:2]
        self.limits = limits
        self._loop = asyncio.new_event_loop()
        self.protocol = _BoundedServer(
            handler,
            limits,
            loop=self._loop,
            access_log=None,  # probes and scrapes every few seconds must not fill the log
            logger=_DISCARD,
            keepalive_timeout=limits.idle_timeout_s,
            max_line_size=limits.max_line_bytes,
            max_field_size=limits.max_header_bytes,
            max_headers=limits.max_headers,
            lingering_time=1.0,
        )
        self._server = self._loop.run_until_complete(
            self._loop.create_server(
                self.protocol, sock=sock, backlog=limits.backlog, ssl=ssl_context
            )
        )
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="flagstream-http", daemon=True
        )
        self._thread.start()

    def open_connections(self) -> int:
        """Connections open now (read from any thread: a length, atomic enough for a gauge)."""
        return self.protocol.open_connections()

    def close(self, timeout_s: float = 5.0) -> None:
        if not self._thread.is_alive():
            return

        async def stop() -> None:
            self._server.close()
            await self.protocol.shutdown(1.0)
            await self._server.wait_closed()

        future = asyncio.run_coroutine_threadsafe(stop(), self._loop)
        try:
            future.result(timeout_s)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
            if not self._thread.is_alive():
                self._loop.close()


def listen(host: str, port: int, backlog: int) -> socket.socket:
    """The listening socket, bound now: raises OSError if the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=backlog, reuse_port=False)
    sock.setblocking(False)
    return sock


def serve_handler(
    host: str,
    port: int,
    handler: Handler,
    limits: HttpLimits | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpServer:
    """Serve ``handler`` on ``host:port`` in a daemon thread; raises OSError if the address is taken."""
    limits = limits or HttpLimits()
    return HttpServer(listen(host, port, limits.backlog), handler, limits, ssl_context)


def serve(
    host: str,
    port: int,
    registry: CollectorRegistry,
    heartbeat: Heartbeat,
    limits: HttpLimits | None = None,
    access: HttpAccess | None = None,
) -> HttpServer:
    """Serve the three endpoints in a daemon thread; raises OSError if the address is taken."""
    access = access or HttpAccess()
    return serve_handler(
        host, port, health_handler(registry, heartbeat, access), limits, access.ssl_context
    )
