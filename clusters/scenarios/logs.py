"""Container output in each runtime's own format: start-up banners, request logs, shutdowns.

A log is a list of ``(time, line)``; :func:`text` turns it into what ``kubectl logs`` returns.
Formats: Go services log slog JSON, Java services Spring Boot 3 console lines, Python services
uvicorn plus JSON application lines, Node services pino JSON.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from ._rand import Rand
from .apps import AppSpec

__all__ = ["Log", "line", "shutdown", "startup", "text", "traffic"]

Log = list[tuple[datetime, str]]

_SPRING_BANNER = [
    "",
    "  .   ____          _            __ _ _",
    " /\\\\ / ___'_ __ _ _(_)_ __  __ _ \\ \\ \\ \\",
    "( ( )\\___ | '_ | '_| | '_ \\/ _` | \\ \\ \\ \\",
    " \\\\/  ___)| |_)| | | | | || (_| |  ) ) ) )",
    "  '  |____| .__|_| |_|_| |_\\__, | / / / /",
    " =========|_|==============|___/=/_/_/_/",
    "",
    " :: Spring Boot ::                (v3.3.5)",
    "",
]


def _iso_ms(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _iso_us(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _spring(app: AppSpec, t: datetime, level: str, logger: str, msg: str, thread: str = "main") -> str:
    """Spring Boot 3 console format: ``%5p ${PID} --- [app] [%15.15t] %-40.40logger{39} : %m``."""
    return f"{_iso_ms(t)} {level:>5} 1 --- [{app.name}] [{thread[-15:]:>15}] {_logger(logger):<40} : {msg}"


def _logger(name: str) -> str:
    """Logback's ``%.40logger{39}``: abbreviate packages from the left, then keep the last 40 chars."""
    parts = name.split(".")
    for i in range(len(parts) - 1):
        if len(".".join(parts)) <= 39:
            break
        parts[i] = parts[i][:1]
    return ".".join(parts)[-40:]


def _go(t: datetime, level: str, msg: str, **attrs: object) -> str:
    return json.dumps({"time": _iso_us(t), "level": level, "msg": msg, **attrs}, separators=(",", ":"))


def _node(app: AppSpec, t: datetime, level: int, msg: str, pod: str, **attrs: object) -> str:
    ms = int(t.timestamp() * 1000)
    return json.dumps({"level": level, "time": ms, "pid": 1, "hostname": pod, **attrs, "msg": msg},
                      separators=(",", ":"))


def _py(t: datetime, level: str, msg: str, logger: str, **attrs: object) -> str:
    return json.dumps({"timestamp": _iso_us(t), "level": level, "logger": logger, "event": msg, **attrs},
                      separators=(",", ":"))


def line(app: AppSpec, t: datetime, level: str, msg: str, *, pod: str = "", logger: str = "",
         **attrs: object) -> str:
    """One application log line at ``level`` (``INFO``/``WARN``/``ERROR``) in ``app``'s format."""
    if app.runtime == "java":
        return _spring(app, t, level, logger or f"{_abbrev(app.package)}.service.Main", msg)
    if app.runtime == "node":
        return _node(app, t, {"INFO": 30, "WARN": 40, "ERROR": 50}.get(level, 30), msg, pod, **attrs)
    if app.runtime == "python":
        return _py(t, level.lower().replace("warn", "warning"), msg, logger or f"{app.name.replace('-', '_')}.app",
                   **attrs)
    return _go(t, level, msg, **attrs)


def _abbrev(package: str) -> str:
    parts = package.split(".") if package else ["app"]
    return ".".join([p[0] for p in parts[:-1]] + parts[-1:])


def startup(app: AppSpec, t0: datetime, rng: Rand, *, pod: str, db: bool = False) -> Log:
    """What the process prints from exec to "ready" (a few seconds; longer for the JVM)."""
    if app.runtime == "java":
        return _java_startup(app, t0, rng, db=db)
    t = t0 + timedelta(milliseconds=rng.randrange(80, 400))
    if app.runtime == "go":
        out = [(t, _go(t, "INFO", "starting", service=app.name, version=app.version, go="go1.24.6"))]
        if db:
            t += timedelta(milliseconds=rng.randrange(20, 90))
            out.append((t, _go(t, "INFO", "connected to database", host=dict(app.env).get("DATABASE_HOST", "db"),
                               pool_max_conns=16)))
        t += timedelta(milliseconds=rng.randrange(5, 40))
        return [*out, (t, _go(t, "INFO", "http server listening", addr=f":{app.port}"))]
    if app.runtime == "node":
        t2 = t + timedelta(milliseconds=rng.randrange(300, 900))
        return [(t, _node(app, t, 30, f"{app.name} v{app.version} starting", pod, env="production")),
                (t2, _node(app, t2, 30, f"Server listening at http://0.0.0.0:{app.port}", pod))]
    return _python_startup(app, t, rng)


def _java_startup(app: AppSpec, t0: datetime, rng: Rand, *, db: bool) -> Log:
    t = t0 + timedelta(milliseconds=rng.randrange(600, 1400))
    cls = "".join(p.capitalize() for p in app.name.split("-")) + "Application"
    main = f"{_abbrev(app.package)}.{cls}"
    out: Log = [(t, b) for b in _SPRING_BANNER]
    steps = [
        (main, f"Starting {cls} v{app.version} using Java 21.0.8 with PID 1 (/app/app.jar started by app in /app)"),
        (main, 'The following 1 profile is active: "prod"'),
        ("o.s.b.w.embedded.tomcat.TomcatWebServer", f"Tomcat initialized with port {app.port} (http)"),
        ("o.apache.catalina.core.StandardService", "Starting service [Tomcat]"),
        ("o.apache.catalina.core.StandardEngine", "Starting Servlet engine: [Apache Tomcat/10.1.31]"),
        ("o.a.c.c.C.[Tomcat].[localhost].[/]", "Initializing Spring embedded WebApplicationContext"),
        ("w.s.c.ServletWebServerApplicationContext",
         f"Root WebApplicationContext: initialization completed in {rng.randrange(1400, 2600)} ms"),
    ]
    if db:
        steps += [("com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Starting..."),
                  ("com.zaxxer.hikari.pool.HikariPool",
                   f"HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@{rng.hexstr(8)}"),
                  ("com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Start completed.")]
    took = rng.between(9.0, 16.0)
    steps += [("o.s.b.a.e.web.EndpointLinksResolver", "Exposing 3 endpoints beneath base path '/actuator'"),
              ("o.s.b.w.embedded.tomcat.TomcatWebServer",
               f"Tomcat started on port {app.port} (http) with context path '/'"),
              (main, f"Started {cls} in {took:.3f} seconds (process running for {took + 0.8:.3f})")]
    for i, (logger, msg) in enumerate(steps):
        t = t0 + timedelta(seconds=1.2 + took * (i + 1) / len(steps))
        out.append((t, _spring(app, t, "INFO", logger, msg)))
    return out


def _python_startup(app: AppSpec, t: datetime, rng: Rand) -> Log:
    msgs = ["INFO:     Started server process [1]", "INFO:     Waiting for application startup.",
            "INFO:     Application startup complete.",
            f"INFO:     Uvicorn running on http://0.0.0.0:{app.port} (Press CTRL+C to quit)"]
    out = []
    for m in msgs:
        t += timedelta(milliseconds=rng.randrange(2, 300))
        out.append((t, m))
    return out


def traffic(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, lines: int = 12,
            client_net: str = "10.0.0") -> Log:
    """Ordinary request logs spread between ``start`` and ``end``."""
    if end <= start:
        return []
    span = (end - start).total_seconds()
    stamps = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(lines))
    return [(t, _request(app, t, rng, pod, client_net)) for t in stamps]


def _request(app: AppSpec, t: datetime, rng: Rand, pod: str, net: str) -> str:
    route = rng.choice(app.routes)
    path = route + (str(rng.randrange(1000, 99999)) if route.endswith("/") else "")
    method = "POST" if rng.random() < 0.3 and app.runtime != "python" else "GET"
    status = rng.choice([200] * 14 + [201, 204, 404])
    ms = round(rng.lognormvariate(2.6, 0.6), 1)
    peer = f"{net}.{rng.randrange(2, 250)}:{rng.randrange(32768, 60999)}"
    if app.runtime == "java":
        thread = f"nio-{app.port}-exec-{rng.randrange(1, 10)}"
        logger = f"{_abbrev(app.package)}.web.RequestLoggingFilter"
        return _spring(app, t, "INFO", logger, f"{method} {path} -> {status} ({int(ms)} ms)", thread)
    if app.runtime == "python":
        return f'INFO:     {peer} - "{method} {path} HTTP/1.1" {status} {_reason(status)}'
    if app.runtime == "node":
        return _node(app, t, 30, "request completed", pod, reqId=f"req-{rng.randrange(1, 99999)}",
                     res={"statusCode": status}, responseTime=ms, req={"method": method, "url": path})
    return _go(t, "INFO", "request", method=method, path=path, status=status, duration_ms=ms,
               remote=peer)


def _reason(status: int) -> str:
    return {200: "OK", 201: "Created", 204: "No Content", 404: "Not Found", 500: "Internal Server Error",
            503: "Service Unavailable"}[status]


def shutdown(app: AppSpec, t: datetime) -> Log:
    """What a well-behaved process prints on SIGTERM."""
    if app.runtime == "java":
        return [(t, _spring(app, t, "INFO", "o.s.b.w.e.tomcat.GracefulShutdown", "Commencing graceful shutdown. "
                            "Waiting for active requests to complete", "SpringApplicationShutdownHook"))]
    if app.runtime == "python":
        return [(t, "INFO:     Shutting down"), (t, "INFO:     Finished server process [1]")]
    return [(t, line(app, t, "INFO", "shutting down", signal="terminated"))]


def text(log: Log) -> str:
    """``kubectl logs`` output: lines in time order, newline-terminated."""
    return "".join(f"{entry}\n" for _, entry in sorted(log, key=lambda e: e[0]))
