"""The HTTP ingress: a Ray Serve deployment with a FastAPI app.

Routes: ``POST /webhook/alertmanager[/{cluster}]``, ``GET /api/v1/alerts``, ``GET /api/v1/incidents``,
``GET /api/v1/incidents/{id}``, ``GET /healthz``; for the dashboard (``GET /`` and ``/static/*``):
``GET /api/v1/fleet/{summary,trends,incidents}``, the change feed ``GET /api/v1/events[/stream]``
(long-poll, server-sent events) and ``GET /metrics`` (Prometheus). Alertmanager never retries a
4xx, so a 4xx is answered only when the envelope is unusable (not JSON, not version "4", over the
body limit); a 2xx means the alerts are durably stored. With ``ingest.ack: spooled`` (the default)
the replica screens the envelope and each alert, appends the body to its write-ahead spool
(``engine/spool.py``, group commit: one fsync for the requests that arrived together) and answers
``{"status": "spooled", ...}``; the incident manager stores and correlates it moments later, and its
reads wait for what was spooled before them. With ``ack: stored`` the 2xx waits for the manager's
DuckDB write (``{"status": "stored", "incidents": [...]}``).
"""


import hmac
import socket
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import ray
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from ray import serve as ray_serve

from engine.alerts import PayloadError, parse_payload
from engine.feed import FROM_NOW
from engine.fleet_models import FeedPage, FleetSummary, FleetTrends, IncidentPage
from engine.ingest import screen_payload
from engine.spool import SpoolWriter
from serve.actors import MANAGER_NAME, NAMESPACE
from serve.dashboard import INDEX, media_type, static_file
from serve.dashboard.sse import event_stream, start_seq
from serve.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

api = FastAPI(
    title="fleetsre",
    description="Investigates Alertmanager alerts across fleets of Kubernetes clusters.",
    version="0.1.0",
)


def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "field": field})


#: Event streams one ingress replica holds at once: each takes one of its request slots, and
#: webhooks must always find one free.
MAX_EVENT_STREAMS = 16
_NO_CACHE = {"Cache-Control": "no-cache"}


def _utc(t: datetime | None) -> datetime | None:
    """Query times without an offset are UTC."""
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def _writer_id() -> str:
    """This replica's spool directory name: unique per replica instance (a restarted replica gets a new
    one; the manager drains and removes the old one)."""
    try:
        rid = ray_serve.get_replica_context().replica_id.unique_id
    except Exception:  # outside a replica (tests)
        rid = uuid.uuid4().hex[:8]
    return f"{socket.gethostname()}-{rid}-{uuid.uuid4().hex[:6]}"


@ray_serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=64)
@ray_serve.ingress(api)
class Ingress:
    def __init__(self, max_body_bytes: int, tokens: dict[str, str], spool: dict[str, Any] | None = None) -> None:
        """``spool``: ``{"root": <data_dir>/spool, "fsync": bool, "segment_bytes": int}`` for ``ack: spooled``;
        None for ``ack: stored``."""
        self.max_body_bytes = max_body_bytes
        self.tokens = tokens
        self.manager = ray.get_actor(MANAGER_NAME, namespace=NAMESPACE)
        self.event_streams = 0
        self.spool: SpoolWriter | None = None
        if spool is not None:
            self.spool = SpoolWriter(Path(spool["root"]) / _writer_id(), fsync=spool.get("fsync", True),
                                     segment_bytes=spool.get("segment_bytes", 64 * 1024 * 1024))
        self._poked = 0.0

    def __del__(self) -> None:
        if self.spool is not None:
            self.spool.close_now()  # releases the directory's lock: the manager may remove it once drained

    def _poke(self) -> None:
        """Tell the manager something was spooled (fire and forget, at most every 50 ms: it also polls)."""
        now = time.monotonic()
        if now - self._poked > 0.05:
            self._poked = now
            self.manager.spool_notify.remote()

    async def _read_body(self, request: Request) -> bytes | JSONResponse:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            return _error(413, "body", f"body of {declared} bytes exceeds the limit of {self.max_body_bytes} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                return _error(413, "body", f"body exceeds the limit of {self.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _authorised(self, request: Request, cluster: str | None) -> bool:
        token = self.tokens.get(cluster or "")
        if not token:
            return True
        got = request.headers.get("authorization", "")
        return hmac.compare_digest(got.encode(), f"Bearer {token}".encode())

    async def _webhook(self, request: Request, cluster: str | None) -> JSONResponse:
        if not self._authorised(request, cluster):
            return _error(401, "authorization", f"a valid bearer token is required for cluster {cluster!r}")
        body = await self._read_body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _error(400, "body", f"body is not valid JSON: {exc}")
        try:  # the envelope is checked here, so a 4xx never needs a hop
            if self.spool is None:
                parse_payload(data)
            else:
                accepted, rejected = screen_payload(data)
        except PayloadError as exc:
            return _error(422 if exc.field != "body" else 400, exc.field, exc.message)
        if self.spool is None:
            summary = await self.manager.receive.remote(data, cluster)
            return JSONResponse(status_code=200, content=summary)
        try:
            await self.spool.append(body, cluster)  # returns once fsynced (group commit)
        except Exception as exc:  # not durable: a 5xx, which Alertmanager retries
            return _error(503, "spool", f"could not store the webhook durably: {type(exc).__name__}: {exc}")
        self._poke()
        return JSONResponse(status_code=200, content={
            "status": "spooled", "accepted": accepted, "rejected": [r.model_dump() for r in rejected]})

    @api.post("/webhook/alertmanager", summary="Alertmanager webhook (cluster from labels or externalURL)")
    async def webhook(self, request: Request) -> JSONResponse:
        return await self._webhook(request, None)

    @api.post("/webhook/alertmanager/{cluster}", summary="Alertmanager webhook for one cluster")
    async def webhook_cluster(self, cluster: str, request: Request) -> JSONResponse:
        return await self._webhook(request, cluster)

    @api.get("/api/v1/alerts", summary="Stored alerts, newest first")
    async def alerts(
        self, cluster: str | None = None, status: str | None = Query(None, pattern="^(firing|resolved)$"),
        limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
    ) -> list[dict[str, Any]]:
        return await self.manager.list_alerts.remote(cluster=cluster, status=status, limit=limit, offset=offset)

    @api.get("/api/v1/incidents", summary="Incidents, newest first")
    async def incidents(
        self, cluster: str | None = None, status: str | None = Query(None, pattern="^(open|resolved|merged)$"),
        category: str | None = None, limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
    ) -> list[dict[str, Any]]:
        return await self.manager.list_incidents.remote(
            cluster=cluster, status=status, category=category, limit=limit, offset=offset)

    @api.get("/api/v1/incidents/{incident_id}", summary="One incident: report, events and alerts")
    async def incident(self, incident_id: str) -> dict[str, Any]:
        found = await self.manager.get_incident.remote(incident_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no incident {incident_id!r}")
        return found

    @api.post("/api/v1/incidents/{incident_id}/investigate", status_code=202,
              summary="Re-run an incident's investigation (fresh collection, today's history)")
    async def reinvestigate(self, incident_id: str) -> JSONResponse:
        scheduled = await self.manager.reinvestigate.remote(incident_id)
        if scheduled is None:
            return _error(404, "incident_id", f"no incident {incident_id!r}")
        return JSONResponse(status_code=202, content={"status": "scheduled", "incident_id": scheduled})

    @api.get("/healthz", summary="Liveness and a summary of the engine's state")
    async def healthz(self) -> dict[str, Any]:
        return {"status": "ok", **(await self.manager.status.remote())}

    # -- the dashboard, the fleet API, the change feed, metrics ---------------------------------
    @api.get("/", include_in_schema=False)
    async def dashboard(self) -> Response:
        return FileResponse(INDEX, media_type=media_type(INDEX), headers=_NO_CACHE)

    @api.get("/static/{path:path}", include_in_schema=False)
    async def static_asset(self, path: str) -> Response:
        found = static_file(path)
        if found is None:
            return _error(404, "path", f"no dashboard file {path!r}")
        return FileResponse(found, media_type=media_type(found), headers=_NO_CACHE)

    @api.get("/api/v1/fleet/summary", response_model=FleetSummary,
             summary="Per cluster: open incidents, worst severity, alert counts, categories")
    async def fleet_summary(self) -> dict[str, Any]:
        return await self.manager.fleet_summary.remote()

    @api.get("/api/v1/fleet/trends", response_model=FleetTrends,
             summary="Alerts over time per cluster, incidents by category × cluster, time to resolve over time")
    async def fleet_trends(
        self, bucket: Literal["hour", "day"] = Query("hour", description="bucket width"),
        since: Annotated[datetime | None, Query(description="ISO 8601; default 48 h (hour) or 30 days (day) before until")] = None,
        until: Annotated[datetime | None, Query(description="ISO 8601; default now")] = None,
    ) -> Any:
        since, until = _utc(since), _utc(until)
        if since and until and since >= until:
            return _error(422, "since", f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
        return await self.manager.fleet_trends.remote(bucket, since, until)

    @api.get("/api/v1/fleet/incidents", response_model=IncidentPage,
             summary="Incidents with filters, newest first, with the total for paging")
    async def fleet_incidents(
        self, cluster: str | None = Query(None, description="incidents with alerts in this cluster"),
        category: str | None = Query(None, description="root-cause category, or 'pending' (no report yet)"),
        status: str | None = Query(None, pattern="^(open|resolved|merged)$"),
        severity: str | None = Query(None, description="worst severity label of the incident's alerts, or 'none'"),
        since: Annotated[datetime | None, Query(description="opened at or after (ISO 8601)")] = None,
        until: Annotated[datetime | None, Query(description="opened before (ISO 8601)")] = None,
        limit: int = Query(25, ge=1, le=500), offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        return await self.manager.search_incidents.remote(
            cluster=cluster, category=category, status=status, severity=severity, since=_utc(since),
            until=_utc(until), limit=limit, offset=offset)

    @api.get("/api/v1/events", response_model=FeedPage,
             summary="Incident changes after a sequence number (long-poll)")
    async def events(
        self, after: int = Query(FROM_NOW, ge=FROM_NOW, description="last sequence seen; -1: only what comes next"),
        timeout_s: float = Query(0.0, ge=0, le=30, description="wait this long for a change when there is none"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        return await self.manager.events_since.remote(after, timeout_s, limit)

    @api.get("/api/v1/events/stream", response_class=StreamingResponse,
             summary="Incident changes as server-sent events (ready, incident, reset)",
             responses={200: {"content": {"text/event-stream": {}}}, 503: {"description": "too many streams"}})
    async def events_stream(
        self, request: Request,
        after: int | None = Query(None, ge=FROM_NOW, description="start after this sequence (a Last-Event-ID header "
                                                                  "wins; default: only what comes next)"),
        max_s: float = Query(300.0, gt=0, le=3600, description="the stream ends after this; EventSource reconnects"),
    ) -> Response:
        if self.event_streams >= MAX_EVENT_STREAMS:
            return _error(503, "stream", f"this replica already serves {MAX_EVENT_STREAMS} event streams; "
                                         "poll GET /api/v1/events instead")
        start = start_seq(after, request.headers.get("last-event-id"), FROM_NOW)
        return StreamingResponse(self._counted_stream(start, max_s), media_type="text/event-stream",
                                 headers={**_NO_CACHE, "X-Accel-Buffering": "no"})

    async def _counted_stream(self, start: int, max_s: float) -> Any:
        self.event_streams += 1
        try:
            async for chunk in event_stream(self._feed_page, start, max_s=max_s):
                yield chunk
        finally:
            self.event_streams -= 1

    async def _feed_page(self, after: int, timeout_s: float) -> dict[str, Any]:
        return await self.manager.events_since.remote(after, timeout_s)

    @api.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics (text exposition format)")
    async def metrics(self) -> Response:
        return Response(await self.manager.metrics_text.remote(), media_type=METRICS_CONTENT_TYPE)
