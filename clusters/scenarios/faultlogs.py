"""More last words of failing containers: panics, tracebacks, TLS and DNS failures, a full disk, a
batch job giving up, a throttled service getting slow.

Same contract as ``crashlogs``: ``fn(app, start, end, rng, *, pod, ...) -> Log`` for one container
instance that ran from ``start`` to ``end``. Wordings are those of the runtimes and libraries
(Go runtime and ``crypto/x509``, CPython, Spring/JSSE, ioredis, PostgreSQL), as in
``reference/real-formats.md`` §5 and ``samples/app-logs``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ._rand import Rand
from .apps import AppSpec
from .logs import Log, line, startup, traffic

__all__ = ["batch_failure", "db_disk_full", "dns_failure", "go_panic", "missing_setting", "py_poison_message",
           "startup_crash", "throttled", "tls_expired", "tls_untrusted"]


def _ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


def _module(app: AppSpec) -> str:
    return app.package or f"github.com/northwind/{app.name}"


def go_panic(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, where: str) -> Log:
    """A Go service dereferencing a nil pointer while it wires itself up (exit status 2)."""
    out = startup(app, start, rng, pod=pod)[:1]
    mod, pkg = _module(app), where.split(".")[0]
    addr = rng.choice(["0x0", "0x18", "0x28", "0x40"])
    pc = f"0x{rng.randrange(0x1000000, 0x1ffffff):x}"
    frames = [
        f"{mod}/internal/{pkg}.(*{where.split('.')[1]}).Start(0x0, {{0x{rng.randrange(0x2000000, 0x2ffffff):x}, "
        f"0xc000{rng.randrange(0x100000, 0xfffff0):06x}}})",
        f"\t/src/internal/{pkg}/{pkg}.go:{rng.randrange(40, 180)} +0x{rng.randrange(0x20, 0x1ff):x}",
        f"{mod}/internal/server.(*Server).Run(0xc000{rng.randrange(0x100000, 0xfffff0):06x}, "
        f"{{0x{rng.randrange(0x2000000, 0x2ffffff):x}, 0xc000{rng.randrange(0x100000, 0xfffff0):06x}}})",
        f"\t/src/internal/server/server.go:{rng.randrange(60, 140)} +0x{rng.randrange(0x100, 0x3ff):x}",
        "main.main()", f"\t/src/cmd/{app.name}/main.go:{rng.randrange(30, 70)} +0x{rng.randrange(0x200, 0x4ff):x}",
    ]
    return out + [(end, s) for s in [
        "panic: runtime error: invalid memory address or nil pointer dereference",
        f"[signal SIGSEGV: segmentation violation code=0x1 addr={addr} pc={pc}]", "",
        "goroutine 1 [running]:", *frames]]


def startup_crash(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, where: str) -> Log:
    """A release that dereferences something it never initialised, in each runtime's words."""
    cls = where.split(".")[1]
    if app.runtime == "go":
        return go_panic(app, start, end, rng, pod=pod, where=where)
    if app.runtime == "java":
        out = startup(app, start, rng, pod="")[:12]
        err = (f'java.lang.NullPointerException: Cannot invoke "{app.package}.{where.split(".")[0]}.{cls}.start()" '
               f'because "this.{cls[0].lower() + cls[1:]}" is null')
        return out + [(end, line(app, end, "ERROR", "Application run failed", logger="o.s.boot.SpringApplication"))] + [
            (end, s) for s in ["", "java.lang.IllegalStateException: Failed to execute CommandLineRunner",
                               "\tat org.springframework.boot.SpringApplication.callRunner(SpringApplication.java:"
                               "791) ~[spring-boot-3.3.5.jar!/:3.3.5]", f"Caused by: {err}",
                               f"\tat {app.package}.{where.split('.')[0]}.Bootstrap.run(Bootstrap.java:"
                               f"{rng.randrange(30, 90)}) ~[!/:{app.version}]", "\t... 5 common frames omitted", ""]]
    if app.runtime == "node":
        return startup(app, start, rng, pod=pod)[:1] + [(end, s) for s in [
            f"/app/dist/{where.split('.')[0]}/index.js:{rng.randrange(20, 90)}",
            f"    this.client = new {cls}(config.{where.split('.')[0]}.endpoint);", "                                  ^",
            "", "TypeError: Cannot read properties of undefined (reading 'endpoint')",
            f"    at new Service (/app/dist/{where.split('.')[0]}/index.js:42:35)",
            "    at Object.<anonymous> (/app/dist/server.js:18:17)",
            "    at Module._compile (node:internal/modules/cjs/loader:1546:14)", "", "Node.js v22.11.0"]]
    pkg = app.name.replace("-", "_")
    mod = where.split(".")[0]
    return [(end, s) for s in [
        "INFO:     Started server process [1]", "INFO:     Waiting for application startup.",
        "ERROR:    Traceback (most recent call last):",
        '  File "/app/.venv/lib/python3.12/site-packages/starlette/routing.py", line 693, in lifespan',
        "    async with self.lifespan_context(app) as maybe_state:",
        f'  File "/app/src/{pkg}/{mod}.py", line {rng.randrange(20, 80)}, in startup',
        f"    await app.state.{mod}.connect()", "AttributeError: 'NoneType' object has no attribute 'connect'",
        "ERROR:    Application startup failed. Exiting."]]


def py_poison_message(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, which: int) -> Log:
    """A queue consumer that dies on the same malformed message every time it is redelivered."""
    pkg = app.name.replace("-", "_")
    t = start + _ms(rng.randrange(300, 900))
    tag = rng.randrange(10_000, 99_999)
    out: Log = [(t, line(app, t, "INFO", "consumer started", logger=f"{pkg}.consumer", queue=f"{app.name}.jobs",
                         prefetch=10)),
                (end - _ms(40), line(app, end - _ms(40), "INFO", "received message", logger=f"{pkg}.consumer",
                                     delivery_tag=tag, redelivered=True))]
    code, caret, exc = [
        ('    template = TEMPLATES[payload["template"]]', "               ~~~~~~~~~^^^^^^^^^^^^^^^^^^^^^",
         "KeyError: 'order_shipped_v2'"),
        ('    amount = Decimal(payload["amount"]["value"])', "                     ~~~~~~~~~~~~~~~~~^^^^^^^^^",
         "TypeError: 'NoneType' object is not subscriptable"),
        ('    attempts = int(headers.get("x-retry-count"))', "               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
         "ValueError: invalid literal for int() with base 10: 'N/A'"),
    ][which % 3]
    return out + [(end, s) for s in [
        "Traceback (most recent call last):",
        f'  File "/app/src/{pkg}/__main__.py", line 14, in <module>', "    main()",
        f'  File "/app/src/{pkg}/consumer.py", line 88, in main', "    handle(message)",
        f'  File "/app/src/{pkg}/handlers.py", line {rng.randrange(30, 120)}, in handle', code, caret, exc]]


def tls_expired(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, url: str,
                not_after: datetime) -> Log:
    """A client refusing an upstream's expired certificate, in the runtime's own words, then exiting."""
    now = end - _ms(rng.randrange(5, 60))
    host = url.split("/")[2]
    if app.runtime == "python":
        return startup(app, start, rng, pod=pod)[:2] + [(end, s) for s in [
            "ERROR:    Traceback (most recent call last):",
            '  File "/app/.venv/lib/python3.12/site-packages/urllib3/connectionpool.py", line 464, in _make_request',
            "    self._validate_conn(conn)",
            "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate "
            "has expired (_ssl.c:1010)", "",
            f"requests.exceptions.SSLError: HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with "
            f"url: /{url.split('/', 3)[3]} (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
            "CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1010)')))",
            "ERROR:    Application startup failed. Exiting."]]
    if app.runtime == "node":
        return startup(app, start, rng, pod=pod)[:1] + [(end, s) for s in [
            "node:internal/process/promises:394", "    triggerUncaughtException(err, true /* fromPromise */);",
            "    ^", "", "Error: certificate has expired",
            "    at TLSSocket.onConnectSecure (node:_tls_wrap:1677:34)",
            "    at TLSSocket.emit (node:events:519:28)", "    at TLSSocket._finishInit (node:_tls_wrap:1076:8) {",
            "  code: 'CERT_HAS_EXPIRED'", "}", "", "Node.js v22.11.0"]]
    if app.runtime == "java":
        out = startup(app, start, rng, pod="")[:14]
        stamp = not_after.strftime("%a %b %d %H:%M:%S UTC %Y")
        return out + [(end, line(app, end, "ERROR", "Application run failed", logger="o.s.boot.SpringApplication"))] + [
            (end, s) for s in [
                f'org.springframework.web.client.ResourceAccessException: I/O error on GET request for "{url}": PKIX '
                "path validation failed: java.security.cert.CertPathValidatorException: validity check failed",
                "Caused by: java.security.cert.CertPathValidatorException: validity check failed",
                f"Caused by: java.security.cert.CertificateExpiredException: NotAfter: {stamp}",
                "\tat java.base/sun.security.x509.CertificateValidity.valid(CertificateValidity.java:182) ~[na:na]",
                "\t... 71 common frames omitted", ""]]
    err = (f'Get "{url}": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: '
           f"current time {now:%Y-%m-%dT%H:%M:%SZ} is after {not_after:%Y-%m-%dT%H:%M:%SZ}")
    out = startup(app, start, rng, pod=pod)[:1]
    return out + [(now, line(app, now, "ERROR", "refreshing signing keys failed", url=url, error=err)),
                  (end, line(app, end, "ERROR", "exiting", error="no valid signing keys", code=1))]


def tls_untrusted(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, url: str) -> Log:
    """Spring Boot failing at start-up: the JVM trust store lacks the CA that signed an upstream."""
    out = startup(app, start, rng, pod="")[:14]
    t = end - _ms(300)
    cause = ("javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath."
             "SunCertPathBuilderException: unable to find valid certification path to requested target")
    out.append((t, line(app, t, "WARN", "Exception encountered during context initialization - cancelling refresh "
                        "attempt: org.springframework.beans.factory.BeanCreationException: Error creating bean with "
                        "name 'gatewayClient': Invocation of init method failed",
                        logger="ConfigServletWebServerApplicationContext")))
    out.append((end, line(app, end, "ERROR", "Application run failed", logger="o.s.boot.SpringApplication")))
    return out + [(end, s) for s in [
        "org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'gatewayClient': "
        "Invocation of init method failed",
        f"Caused by: org.springframework.web.client.ResourceAccessException: I/O error on GET request for \"{url}\": "
        f"{cause}",
        "\tat org.springframework.web.client.RestTemplate.createResourceAccessException(RestTemplate.java:926) "
        "~[spring-web-6.1.14.jar!/:6.1.14]",
        f"Caused by: {cause}",
        "\tat java.base/sun.security.ssl.Alert.createSSLException(Alert.java:130) ~[na:na]",
        "\tat java.base/sun.security.ssl.TransportContext.fatal(TransportContext.java:383) ~[na:na]",
        "Caused by: sun.security.validator.ValidatorException: PKIX path building failed: sun.security.provider."
        "certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
        "\t... 62 common frames omitted", ""]]


def dns_failure(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, host: str, port: int,
                dns_ip: str) -> Log:
    """The cache's Service name no longer resolves (NXDOMAIN), in the client library's words."""
    if app.runtime == "node":
        return startup(app, start, rng, pod=pod)[:1] + [(end, s) for s in [
            f"[ioredis] Unhandled error event: Error: getaddrinfo ENOTFOUND {host}",
            "    at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:120:26)",
            "/app/dist/server.js:61", "        throw new Error(`redis not reachable after ${attempts} attempts`);",
            "        ^", "", "Error: redis not reachable after 5 attempts",
            "    at Timeout._onTimeout (/app/dist/server.js:61:15)",
            "    at listOnTimeout (node:internal/timers:594:17)", "", "Node.js v22.11.0"]]
    if app.runtime == "java":
        out = startup(app, start, rng, pod="")[:14]
        return out + [(end, line(app, end, "ERROR", "Application run failed", logger="o.s.boot.SpringApplication"))] + [
            (end, s) for s in [
                "org.springframework.data.redis.RedisConnectionFailureException: Unable to connect to Redis",
                f"Caused by: io.lettuce.core.RedisConnectionException: Unable to connect to {host}/<unresolved>:{port}",
                f"Caused by: java.net.UnknownHostException: {host}: Name or service not known",
                "\tat java.base/java.net.Inet4AddressImpl.lookupAllHostAddr(Native Method) ~[na:na]",
                "\t... 28 common frames omitted", ""]]
    if app.runtime == "python":
        return [(end, s) for s in [
            "INFO:     Started server process [1]", "INFO:     Waiting for application startup.",
            "ERROR:    Traceback (most recent call last):",
            '  File "/app/.venv/lib/python3.12/site-packages/redis/connection.py", line 357, in connect',
            "    sock = self.retry.call_with_retry(",
            f"redis.exceptions.ConnectionError: Error -2 connecting to {host}:{port}. Name or service not known.",
            "ERROR:    Application startup failed. Exiting."]]
    err = f"dial tcp: lookup {host} on {dns_ip}:53: no such host"
    out = startup(app, start, rng, pod=pod)[:1]
    for i in range(1, 4):
        t = start + timedelta(seconds=i * 0.5)
        out.append((t, line(app, t, "WARN", "cache not reachable, retrying", attempt=i, addr=f"{host}:{port}",
                            error=err)))
    return out + [(end, line(app, end, "ERROR", "failed to connect to cache", addr=f"{host}:{port}", error=err))]


def missing_setting(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, var: str) -> Log:
    """Start-up dies because a setting read from the environment is absent; Go panics on it."""
    if app.runtime != "go":
        from .crashlogs import missing_env
        return missing_env(app, start, end, rng, pod=pod, var=var)
    return startup(app, start, rng, pod=pod)[:1] + [(end, s) for s in [
        f"panic: required key {var} missing value", "", "goroutine 1 [running]:",
        "github.com/kelseyhightower/envconfig.MustProcess(...)",
        "\t/go/pkg/mod/github.com/kelseyhightower/envconfig@v1.4.0/envconfig.go:231",
        "main.main()", f"\t/src/cmd/{app.name}/main.go:{rng.randrange(25, 60)} +0x{rng.randrange(0x40, 0x2ff):x}"]]


def db_disk_full(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, first: bool) -> Log:
    """PostgreSQL whose data volume is full: the WAL write fails (PANIC) or start-up cannot write."""
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    pid = rng.randrange(60, 9000)

    def pg(t: datetime, level: str, msg: str, p: int = 1) -> tuple[datetime, str]:
        return t, f"{t.strftime(fmt)[:-3]} GMT [{p}] {level}:  {msg}"
    t0 = start + _ms(rng.randrange(80, 300))
    out: Log = [(t0, f"postgresql {t0:%H:%M:%S}.{t0.microsecond // 10000:02d} INFO  ==> ** Starting PostgreSQL **"),
                pg(t0 + _ms(20), "LOG", "starting PostgreSQL 16.4 on x86_64-pc-linux-gnu, compiled by gcc (Debian "
                   "12.2.0-14) 12.2.0, 64-bit"),
                pg(t0 + _ms(25), "LOG", 'listening on IPv4 address "0.0.0.0", port 5432')]
    if first:
        w = rng.randrange(10, 99)
        return out + [pg(t0 + _ms(40), "LOG", "database system is ready to accept connections"),
                      pg(end - _ms(200), "PANIC", f'could not write to file "pg_wal/xlogtemp.{pid}": No space left '
                         "on device", pid),
                      pg(end - _ms(150), "LOG", f"WAL writer process (PID {w}) was terminated by signal 6: Aborted"),
                      pg(end - _ms(150), "LOG", "terminating any other active server processes"),
                      pg(end, "LOG", "database system is shut down")]
    return out + [pg(t0 + _ms(30), "LOG", "database system was interrupted; last known up at "
                     f"{(start - timedelta(minutes=9)).strftime(fmt)[:-3]} GMT", pid),
                  pg(t0 + _ms(40), "LOG", "database system was not properly shut down; automatic recovery in "
                     "progress", pid),
                  pg(end - _ms(30), "FATAL", f'could not write to file "pg_wal/xlogtemp.{pid}": No space left on '
                     "device", pid),
                  pg(end - _ms(20), "LOG", f"startup process (PID {pid}) exited with exit code 1"),
                  pg(end - _ms(20), "LOG", "aborting startup due to startup process failure"),
                  pg(end, "LOG", "database system is shut down")]


def batch_failure(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, job: str, which: int) -> Log:
    """A nightly export that checks its own result and gives up with a non-zero status (no crash)."""
    pkg = app.name.replace("-", "_")
    t = start + _ms(rng.randrange(200, 600))
    rows = rng.randrange(180_000, 420_000)
    bad = rng.randrange(3, 40)
    out: Log = [(t, line(app, t, "INFO", "export started", logger=f"{pkg}.export", job=job, partition="2026-11-21"))]
    mid = start + (end - start) * 0.6
    out.append((mid, line(app, mid, "INFO", "rows exported", logger=f"{pkg}.export", rows=rows)))
    reason = [f"checksum mismatch for {bad} of 64 parts; refusing to publish a partial export",
              f"{bad} invoices failed validation (currency missing); nothing was published",
              f"upstream returned 0 rows for partition 2026-11-21 after {rows} expected; aborting"][which % 3]
    return out + [(end - _ms(20), line(app, end - _ms(20), "ERROR", "export failed", logger=f"{pkg}.export",
                                       reason=reason)),
                  (end, line(app, end, "INFO", "exiting", logger=f"{pkg}.export", status=1))]


def throttled(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str) -> Log:
    """A service that keeps running but answers slowly: latency warnings, no errors, no exit."""
    out = startup(app, start, rng, pod=pod) + traffic(app, max(start, end - timedelta(minutes=20)), end, rng,
                                                       pod=pod, lines=10)
    t = max(start + timedelta(seconds=40), end - timedelta(minutes=18))
    while t < end:
        ms = rng.randrange(1200, 4800)
        route = rng.choice(app.routes)
        out.append((t, line(app, t, "WARN", "slow request", pod=pod, path=route, duration_ms=ms)))
        t += timedelta(seconds=rng.uniform(20, 70))
    if app.runtime == "java":
        t = end - timedelta(seconds=rng.uniform(30, 200))
        out.append((t, line(app, t, "WARN", "Thread starvation or clock leap detected (housekeeper delta=1m2s87ms).",
                            logger="com.zaxxer.hikari.pool.HikariPool")))
    return out
