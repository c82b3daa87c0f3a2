"""TLS scenarios: an upstream's certificate expires under running pods, and a release whose new base
image no longer trusts the CA of an internal gateway."""

from __future__ import annotations

from datetime import datetime, timedelta

from . import faultlogs
from .baseline import healthy_deployment
from .behaviours import crash_log, run_crashloop
from .cluster import ClusterBuilder, Incident, PodRecord
from .faults import crash_alerts, deployment_alerts, minutes_ago, pick_app, stuck_rollout, variant
from .scen_crash import RUN_S, bump

__all__ = ["certificate_expired", "certificate_untrusted"]

_UPSTREAMS = ["https://login.meridian-idp.net/.well-known/jwks.json", "https://api.fx-rates.io/v2/latest",
              "https://sso.partner-bank.com/oauth2/v1/keys", "https://hooks.carrier-tracking.com/v1/status"]


def _s(x: float) -> timedelta:
    return timedelta(seconds=x)


def certificate_expired(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                        namespace: str | None = None) -> Incident:
    """A partner's certificate expired: the app refreshes keys/rates from it at start-up and every
    few minutes, and exits when it cannot (Go ``x509: certificate has expired or is not yet valid:
    current time ... is after ...``, Python ``CERTIFICATE_VERIFY_FAILED ... certificate has expired``).
    Nothing in the cluster changed; the trigger is the date."""
    v = variant("certificate_expired", seed)
    spec = pick_app(v, ["auth", "ledger", "fraud-scoring", "cart"], app, namespace)
    url = v.choice(_UPSTREAMS)
    inc = cb.incident("certificate_error", "external", "Deployment", spec.namespace, spec.name,
                      "certificate_expired")
    not_after = minutes_ago(cb, 40, 55).replace(second=0, microsecond=0)
    inc.extra["upstream"] = url
    run_s = RUN_S[spec.runtime] if spec.runtime != "java" else (9.0, 13.0)
    firsts: list[datetime] = []

    def run(pod: PodRecord, started: datetime) -> None:
        log = crash_log(faultlogs.tls_expired, cb.rng, url=url, not_after=not_after)
        loop = run_crashloop(cb, pod, spec, start=started, run_s=run_s, exit_code=1, reason="Error", log_fn=log,
                             healthy_until=not_after + _s(cb.rng.between(20, 300)))
        crash_alerts(cb, inc, pod, loop, loop.first_crash)
        firsts.append(loop.first_crash)

    dep = healthy_deployment(cb, spec, run=run, finish=False)
    dep.unavailable_since = min(firsts)
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=dep.unavailable_since)
    return inc


def certificate_untrusted(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                          namespace: str | None = None) -> Incident:
    """A release built on a slimmer JRE base image lost the company root CA from its trust store:
    the new pods fail their first call to the internal payment gateway with ``PKIX path building
    failed`` and Spring exits; the old ReplicaSet still runs."""
    v = variant("certificate_untrusted", seed)
    spec = pick_app(v, ["checkout", "payments-api", "accounts", "tax-engine"], app, namespace)
    released = spec.with_(version=bump(spec.version, v))
    url = v.choice(["https://gateway.payments.northwind.internal:8443/v1/merchants/self",
                    "https://vault.platform.northwind.internal:8200/v1/sys/health",
                    "https://ledger-api.northwind.internal/v1/accounts/health"])
    inc = cb.incident("certificate_error", "rollout", "Deployment", spec.namespace, spec.name,
                      "certificate_untrusted")
    at = minutes_ago(cb, 27, 40)

    def run_new(pod: PodRecord, created: datetime) -> None:
        log = crash_log(faultlogs.tls_untrusted, cb.rng, url=url)
        loop = run_crashloop(cb, pod, released, start=created + _s(cb.rng.between(2, 5)), run_s=(10.0, 15.0),
                             exit_code=1, reason="Error", log_fn=log, fresh_pull=True)
        crash_alerts(cb, inc, pod, loop, created)

    ro = stuck_rollout(cb, spec, released.template(), at=at, run_new=run_new, replicas=v.choice([3, 4]))
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra["replicaset"] = ro.new.name
    return inc
