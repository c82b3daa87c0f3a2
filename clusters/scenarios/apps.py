"""A catalog of ordinary-looking services: what they run, how they are probed, what they log.

Names are the kind a product team would pick (``checkout``, ``ledger``) and say nothing about
what goes wrong with them in a scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from . import k8s

__all__ = ["APPS", "REGISTRY", "AppSpec"]

#: Where the fleet's own images live; the same in every cluster, so one build is one digest.
REGISTRY = "ghcr.io/northwind-platform"


@dataclass(frozen=True)
class AppSpec:
    name: str
    namespace: str
    runtime: str  # go | java | python | node
    version: str
    port: int = 8080
    replicas: int = 3
    memory: str = "512Mi"
    cpu: str = "250m"
    live_path: str = "/healthz"
    ready_path: str = "/readyz"
    routes: tuple[str, ...] = ("/api/v1/items",)
    env: tuple[tuple[str, str], ...] = ()
    package: str = ""  # java package / go module path
    image_repo: str = ""

    @property
    def image(self) -> str:
        return f"{self.image_repo or REGISTRY + '/' + self.name}:{self.version}"

    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, "app.kubernetes.io/part-of": self.namespace}

    def with_(self, **changes: Any) -> AppSpec:
        return replace(self, **changes)

    def container(self, *, env: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        """The app's container spec, probes and resources as its Helm chart would render them."""
        env = env if env is not None else [{"name": k, "value": v} for k, v in self.env]
        resources = {"limits": {"memory": self.memory},
                     "requests": {"cpu": self.cpu, "memory": self.memory}}
        slow = self.runtime == "java"
        return k8s.container(
            self.name, extra.pop("image", self.image), ports=[("http", self.port)], env=env,
            resources=resources,
            liveness=k8s.http_probe(self.live_path, "http", initial=60 if slow else 10, period=10, timeout=2),
            readiness=k8s.http_probe(self.ready_path, "http", initial=20 if slow else 5, period=5, timeout=2),
            **extra,
        )

    def template(self, *, annotations: dict[str, str] | None = None,
                 container: dict[str, Any] | None = None, volumes: list[dict[str, Any]] | None = None,
                 ) -> dict[str, Any]:
        """A Deployment's ``spec.template`` (without ``pod-template-hash``)."""
        md: dict[str, Any] = {"creationTimestamp": None, "labels": self.labels()}
        if annotations:
            md["annotations"] = annotations
        spec = k8s.template_spec([container or self.container()], service_account=self.name, volumes=volumes,
                                 extra={"securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                                            "fsGroup": 10001,
                                                            "seccompProfile": {"type": "RuntimeDefault"}}})
        return {"metadata": md, "spec": spec}


def _env(*pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(zip(pairs[::2], pairs[1::2], strict=True))


_OTEL = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability:4317")

APPS: dict[str, AppSpec] = {a.name: a for a in [
    AppSpec("storefront", "shop", "node", "4.18.2", port=3000, replicas=3, memory="384Mi",
            routes=("/", "/product/", "/cart"), env=_env("NODE_ENV", "production", *_OTEL)),
    AppSpec("cart", "shop", "go", "1.42.0", replicas=3, memory="256Mi", routes=("/api/v1/carts/",),
            env=_env("REDIS_ADDR", "cart-redis.shop:6379", *_OTEL), package="github.com/northwind/cart"),
    AppSpec("checkout", "shop", "java", "2.13.4", replicas=4, memory="768Mi", cpu="500m",
            live_path="/actuator/health/liveness", ready_path="/actuator/health/readiness",
            routes=("/api/checkout/sessions", "/api/checkout/orders"),
            env=_env("SPRING_PROFILES_ACTIVE", "prod", "PAYMENT_API_URL", "http://payments-api.payments:8080",
                     "CART_SERVICE_URL", "http://cart.shop:8080", *_OTEL),
            package="com.northwind.checkout"),
    AppSpec("catalog", "shop", "go", "3.7.1", replicas=2, memory="256Mi", routes=("/api/v1/products/",),
            package="github.com/northwind/catalog"),
    AppSpec("recommendations", "shop", "python", "0.19.3", port=8000, replicas=2, memory="1Gi",
            routes=("/v1/recommendations/",), env=_env("MODEL_BUCKET", "s3://nw-models/recs", *_OTEL)),
    AppSpec("payments-api", "payments", "java", "5.2.0", replicas=3, memory="1Gi", cpu="500m",
            live_path="/actuator/health/liveness", ready_path="/actuator/health/readiness",
            routes=("/v2/payments", "/v2/refunds"), package="com.northwind.payments"),
    AppSpec("ledger", "payments", "go", "2.4.6", replicas=3, memory="256Mi", routes=("/v1/entries",),
            env=_env("DATABASE_HOST", "ledger-db.payments-db.svc.cluster.local", "DATABASE_NAME", "ledger"),
            package="github.com/northwind/ledger"),
    AppSpec("fraud-scoring", "payments", "python", "1.8.0", port=8000, replicas=2, memory="768Mi",
            routes=("/score",)),
    AppSpec("invoicing", "billing", "python", "3.3.2", port=8000, replicas=2, memory="384Mi",
            routes=("/api/invoices/",), env=_env("DB_HOST", "billing-db.billing-db.svc.cluster.local")),
    AppSpec("tax-engine", "billing", "java", "1.21.0", replicas=2, memory="1Gi", cpu="500m",
            live_path="/actuator/health/liveness", ready_path="/actuator/health/readiness",
            routes=("/api/tax/quote",), package="com.northwind.tax"),
    AppSpec("auth", "identity", "go", "6.0.3", replicas=3, memory="192Mi", routes=("/oauth2/token",),
            package="github.com/northwind/auth"),
    AppSpec("accounts", "identity", "java", "3.9.2", replicas=2, memory="768Mi",
            live_path="/actuator/health/liveness", ready_path="/actuator/health/readiness",
            routes=("/api/accounts/",), package="com.northwind.accounts",
            env=_env("SPRING_DATASOURCE_URL", "jdbc:postgresql://accounts-db.identity-db.svc.cluster.local:5432/accounts",
                     *_OTEL)),
    AppSpec("notifier", "messaging", "node", "2.11.0", port=3000, replicas=2, memory="256Mi",
            routes=("/v1/notify",)),
    AppSpec("email-worker", "messaging", "python", "1.4.7", port=8000, replicas=2, memory="256Mi",
            routes=("/healthz",)),
    AppSpec("search-api", "search", "java", "7.4.0", replicas=3, memory="2Gi", cpu="1",
            live_path="/actuator/health/liveness", ready_path="/actuator/health/readiness",
            routes=("/api/search",), package="com.northwind.search"),
    AppSpec("report-builder", "analytics", "python", "2.0.5", port=8000, replicas=2, memory="2Gi", cpu="1",
            routes=("/reports/",)),
]}

