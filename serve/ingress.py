"""The HTTP ingress: a Ray Serve deployment with a FastAPI app.

Routes: ``POST /webhook/alertmanager[/{cluster}]``, ``GET /api/v1/alerts``, ``GET /api/v1/incidents``,
``GET /api/v1/incidents/{id}``, ``GET /healthz``. Alertmanager never retries a 4xx, so a 4xx is
answered only when the envelope is unusable (not JSON, not version "4", over the body limit);
a 2xx means the alerts are stored in the history (the incident manager answers after its write).
"""


import hmac
from typing import Any

import orjson
import ray
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from ray import serve as ray_serve

from engine.alerts import PayloadError, parse_payload
from serve.actors import MANAGER_NAME, NAMESPACE

api = FastAPI(
    title="fleetsre",
    description="Investigates Alertmanager alerts across fleets of Kubernetes clusters.",
    version="0.1.0",
)


def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "field": field})


@ray_serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=64)
@ray_serve.ingress(api)
class Ingress:
    def __init__(self, max_body_bytes: int, tokens: dict[str, str]) -> None:
        self.max_body_bytes = max_body_bytes
        self.tokens = tokens
        self.manager = ray.get_actor(MANAGER_NAME, namespace=NAMESPACE)

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
        try:
            parse_payload(data)  # envelope check here, so a 4xx never needs a hop
        except PayloadError as exc:
            return _error(422 if exc.field != "body" else 400, exc.field, exc.message)
        summary = await self.manager.receive.remote(data, cluster)
        return JSONResponse(status_code=200, content=summary)

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
