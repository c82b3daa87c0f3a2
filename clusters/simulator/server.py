"""The fleet simulator: one HTTP server, many clusters, the real Kubernetes REST API.

Cluster ``<name>`` is served under ``http://HOST:PORT/clusters/<name>``: that URL is its API
server, as the official client accepts a host with a path prefix. Each cluster answers from its
:class:`~clusters.state.ClusterState` (usually a loaded dump) as of the dump's capture time, with
its own faults (:mod:`clusters.simulator.faults`). The writes remediation sends (deployment and
node patches, scale, pod delete and eviction) change that state through the cluster's
:class:`~clusters.simulator.controller.Controller` (``writes.py``; the health model that decides
what heals is ``health.py``, documented in ``clusters/simulator/README.md``).

Stdlib only: a ``ThreadingHTTPServer`` speaking HTTP/1.1 keep-alive (clients pool connections),
run in a background thread by :meth:`Simulator.start`.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from clusters.dump import load_dump
from clusters.simulator import status
from clusters.simulator.controller import Controller
from clusters.simulator.faults import FaultInjector, Faults
from clusters.simulator.handlers import Response, handle, json_response
from clusters.simulator.health import HealthModel
from clusters.simulator.kubeconfig import write_fleet, write_kubeconfig
from clusters.simulator.routing import Route, route
from clusters.simulator.writes import handle_write, is_write, verb
from clusters.state import ClusterState

__all__ = ["PREFIX", "Simulator"]

log = logging.getLogger(__name__)

PREFIX = "/clusters/"
#: Longest a "hang" fault holds a connection; the client's timeout normally ends it far sooner.
MAX_HANG_S = 600.0


class Simulator:
    """Serve several clusters over HTTP; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        clusters: Mapping[str, Path | str | ClusterState],
        faults: Mapping[str, Mapping[str, Any]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        unknown = set(faults or {}) - set(clusters)
        if unknown:
            raise ValueError(f"faults for unknown cluster(s): {sorted(unknown)}")
        self.host, self.port = host, port
        self._states = {name: _state(name, src) for name, src in clusters.items()}
        # created on a cluster's first write: reads never pay for the health model's baseline
        self._dump_dirs = {name: _dump_dir(src) for name, src in clusters.items()}
        self._controllers: dict[str, Controller] = {}
        self._controllers_lock = threading.Lock()
        self._injectors = {name: FaultInjector(Faults(), name) for name in self._states}
        for name, spec in (faults or {}).items():
            self.set_faults(name, spec)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._closed_port: socket.socket | None = None
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving in a background thread; returns the base URL."""
        if self._server is not None:
            return self.base_url
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        # Bound but never listening: connecting gets ECONNREFUSED, like a host with no apiserver,
        # and holding it keeps any other process from taking the port while we run.
        self._closed_port = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._closed_port.bind((self.host, 0))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="fleetsre-simulator", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()  # releases "hang" faults and latency sleeps
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._closed_port is not None:
            self._closed_port.close()
        self._server = self._thread = self._closed_port = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses and configuration ---------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def clusters(self) -> list[str]:
        return list(self._states)

    def state(self, cluster: str) -> ClusterState:
        return self._states[cluster]

    def controller(self, cluster: str) -> Controller:
        """The cluster's simulated control plane (what its writes go through), made on first use."""
        with self._controllers_lock:
            if cluster not in self._controllers:
                state = self._states[cluster]
                self._controllers[cluster] = Controller(state, HealthModel.load(self._dump_dirs[cluster], state))
            return self._controllers[cluster]

    def faults(self, cluster: str) -> Faults:
        return self._injectors[cluster].faults

    def set_faults(self, cluster: str, spec: Mapping[str, Any] | None) -> None:
        """Replace one cluster's faults; takes effect on the next request."""
        if cluster not in self._states:
            raise KeyError(cluster)
        self._injectors[cluster] = FaultInjector(Faults.from_dict(spec), cluster)

    def url(self, cluster: str) -> str:
        """The cluster's API server URL; a refusing port when it is configured unreachable."""
        if cluster not in self._states:
            raise KeyError(cluster)
        if self._server is None:
            raise RuntimeError("start() the simulator before asking for URLs")
        if self.faults(cluster).unreachable == "refuse" and self._closed_port is not None:
            return f"http://{self.host}:{self._closed_port.getsockname()[1]}{PREFIX}{cluster}"
        return f"{self.base_url}{PREFIX}{cluster}"

    def write_kubeconfig(self, path: str | Path) -> Path:
        return write_kubeconfig(path, {name: self.url(name) for name in self._states})

    def write_fleet(
        self, path: str | Path, kubeconfig_path: str | Path, alertmanager_urls: Mapping[str, str] | None = None
    ) -> Path:
        faults = {name: dict(self.faults(name).raw) for name in self._states}
        return write_fleet(path, list(self._states), kubeconfig_path, alertmanager_urls=alertmanager_urls, faults=faults)

    # -- serving -------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        name, _, rest = split.path.removeprefix(PREFIX).partition("/")
        state = self._states.get(unquote(name)) if split.path.startswith(PREFIX) else None
        if state is None:
            handler.reply(json_response(status.resource_not_found()))
            return
        injector = self._injectors[unquote(name)]
        if self._unreachable(handler, injector.faults):
            return
        delay = injector.delay_s()
        if delay > 0 and self._stopping.wait(delay):
            handler.drop()
            return
        try:
            response = self._answer(handler.command, state, injector, "/" + rest, dict(parse_qsl(split.query)),
                                    unquote(name), handler.body, handler.headers.get("Content-Type"))
        except Exception as exc:  # a bug here must still answer like an apiserver would
            log.exception("simulator failed on %s", handler.path)
            response = json_response(status.status(500, "InternalError", f"Internal error occurred: {exc}"))
        handler.reply(response)

    def _unreachable(self, handler: _Handler, faults: Faults) -> bool:
        if faults.unreachable == "hang":
            self._stopping.wait(MAX_HANG_S)
        if faults.unreachable:
            handler.drop()
            return True
        return False

    def _answer(
        self, method: str, state: ClusterState, injector: FaultInjector, path: str, query: dict[str, str],
        cluster: str | None = None, body: bytes = b"", content_type: str | None = None,
    ) -> Response:
        target = route(path)
        if target is None:
            return json_response(status.resource_not_found())
        denied = _forbidden(injector.faults, target, method)
        if denied is not None:
            return json_response(denied)
        injected = injector.injected_status()
        if injected == 500:
            message = "Internal error occurred: fleetsre simulator injected fault"
            return json_response(status.status(500, "InternalError", message, {"causes": [{"message": message}]}))
        if injected == 429:
            body = status.status(429, "TooManyRequests", "Too many requests, please try again later.", {"retryAfterSeconds": 1})
            return Response(429, json_response(body).body, headers={"Retry-After": "1"})
        if is_write(method, target) and cluster is not None:
            return handle_write(self.controller(cluster), method, target, body, content_type)
        return handle(state, target, query, f"{self.host}:{self.port}")


def _forbidden(faults: Faults, target: Route, method: str = "GET") -> dict[str, Any] | None:
    if target.resource is None:
        return None
    subresource = target.action if target.action in ("log", "eviction", "scale") else None
    if not faults.forbids(target.resource, subresource):
        return None
    return status.forbidden(target.resource, verb(method, target), target.namespace, target.name, subresource)


def _state(name: str, source: Path | str | ClusterState) -> ClusterState:
    return source if isinstance(source, ClusterState) else load_dump(source, name)


def _dump_dir(source: Path | str | ClusterState) -> Path | None:
    return None if isinstance(source, ClusterState) else Path(source)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many collectors connect at once at fleet scale

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or drop connections are routine here, not worth a traceback.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60  # idle keep-alive connections are closed after a minute

    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.body = b""
        self.server.simulator._serve(self)

    def _with_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""  # read it all: the connection stays usable
        self.server.simulator._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = _with_body  # noqa: N815

    def reply(self, response: Response) -> None:
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for header, value in response.headers.items():
            self.send_header(header, value)
        self.end_headers()
        self.wfile.write(response.body)

    def drop(self) -> None:
        """Close the connection without a byte of answer: the client sees it reset."""
        self.close_connection = True
        try:
            # Linger 0 turns the close into a reset, as a host with no listener answers a connection.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from http.server
        pass  # request logs would swamp test output at fleet scale
