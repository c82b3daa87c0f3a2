"""The last words of a failing container, per runtime, in the exact shape real programs print.

Each function returns a :data:`logs.Log` for one container instance that ran from ``start`` to
``end``. Sources for the message formats are in ``reference/samples/app-logs`` and
``reference/real-formats.md`` §5.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ._rand import Rand
from .apps import AppSpec
from .logs import Log, line, shutdown, startup, traffic

__all__ = ["bad_config", "bad_flag", "db_unreachable", "missing_env", "oom_tail", "probe_killed"]


def _ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


def _jvm_frames(*frames: str) -> list[str]:
    return [f"\tat {f}" for f in frames]


def oom_tail(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, heap: bool) -> Log:
    """Normal start-up and warm-up, then nothing: the kernel killed the process (cgroup OOM)."""
    out = startup(app, start, rng, pod=pod)
    t = out[-1][0]
    what = {"java": "price rules", "go": "catalog snapshot", "python": "model shards", "node": "templates"}[app.runtime]
    step = max(1.0, (end - t).total_seconds() / 6)
    for i in range(1, 5):
        t += timedelta(seconds=step * rng.uniform(0.7, 1.0))
        if t >= end:
            break
        out.append((t, line(app, t, "INFO", f"warming cache: loaded {i * 25}% of {what}", pod=pod,
                            logger=f"{app.package or app.name}.cache.WarmupService",
                            entries=i * rng.randrange(180_000, 220_000))))
    if heap and app.runtime == "java":
        t = end - _ms(rng.randrange(900, 2500))
        out += [(t, "java.lang.OutOfMemoryError: Java heap space"),
                (t, "Dumping heap to /tmp/heapdump.hprof ..."),
                (t + _ms(40), 'Exception in thread "cache-warmup-1" java.lang.OutOfMemoryError: Java heap space')]
    return out


def missing_env(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, var: str) -> Log:
    """Start-up dies on a required setting that is absent from the environment."""
    if app.runtime == "java":
        return _spring_missing(app, start, end, rng, var)
    if app.runtime == "go":
        return [(end - _ms(3), line(app, end - _ms(3), "ERROR", "invalid configuration",
                                    error=f"required key {var} missing value")),
                (end - _ms(2), line(app, end - _ms(2), "ERROR", "exiting", code=1))]
    if app.runtime == "node":
        return [(end, s) for s in [
            "/app/node_modules/env-var/lib/variable.js:47", "    throw new EnvVarError(errMsg)", "    ^", "",
            f'EnvVarError: env-var: "{var}" is a required variable, but it was not set',
            "    at raiseError (/app/node_modules/env-var/lib/variable.js:47:11)",
            "    at Object.required (/app/node_modules/env-var/lib/variable.js:179:9)",
            "    at Object.<anonymous> (/app/dist/config.js:14:44)",
            "    at Module._compile (node:internal/modules/cjs/loader:1546:14)", "", "Node.js v22.11.0"]]
    pkg = app.name.replace("-", "_")
    return [(end, s) for s in [
        "Traceback (most recent call last):",
        '  File "/app/.venv/bin/uvicorn", line 8, in <module>', "    sys.exit(main())",
        f'  File "/app/src/{pkg}/settings.py", line 42, in <module>', "    settings = Settings()",
        "               ^^^^^^^^^^",
        '  File "/app/.venv/lib/python3.12/site-packages/pydantic_settings/main.py", line 188, in __init__',
        "    super().__init__(",
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings", var.lower(),
        "  Field required [type=missing, input_value={}, input_type=dict]",
        "    For further information visit https://errors.pydantic.dev/2.11/v/missing"]]


def _spring_missing(app: AppSpec, start: datetime, end: datetime, rng: Rand, var: str) -> Log:
    out = startup(app, start, rng, pod="")[:12]
    bean = var.split("_")[0].lower() + "Client"
    cls = f"{app.package}.{var.split('_')[0].lower()}.{bean[0].upper()}{bean[1:]}"
    where = f"URL [jar:nested:/app/app.jar/!BOOT-INF/classes/!/{cls.replace('.', '/')}.class]"
    err = (f"org.springframework.beans.factory.BeanCreationException: Error creating bean with name '{bean}' "
           f"defined in {where}: Unexpected exception during bean creation")
    t = end - _ms(400)
    out.append((t, line(app, t, "WARN", "Exception encountered during context initialization - cancelling "
                        f"refresh attempt: {err}", logger="ConfigServletWebServerApplicationContext")))
    out.append((t, line(app, t, "INFO", "Stopping service [Tomcat]", logger="o.apache.catalina.core.StandardService")))
    out.append((t, line(app, t, "INFO", "", logger=".s.b.a.l.ConditionEvaluationReportLogger")))
    out += [(t, ""), (t, "Error starting ApplicationContext. To display the condition evaluation report re-run your "
                         "application with 'debug' enabled.")]
    out.append((end, line(app, end, "ERROR", "Application run failed", logger="o.s.boot.SpringApplication")))
    out += [(end, s) for s in ["", err, *_jvm_frames(
        "org.springframework.beans.factory.support.AbstractAutowireCapableBeanFactory.createBean("
        "AbstractAutowireCapableBeanFactory.java:535) ~[spring-beans-6.1.14.jar!/:6.1.14]",
        "org.springframework.beans.factory.support.AbstractBeanFactory.getBean(AbstractBeanFactory.java:204) "
        "~[spring-beans-6.1.14.jar!/:6.1.14]",
        f"{app.package}.{app.name.title().replace('-', '')}Application.main({app.name.title().replace('-', '')}"
        f"Application.java:12) ~[!/:{app.version}]"),
        f'Caused by: org.springframework.util.PlaceholderResolutionException: Could not resolve placeholder '
        f"'{var}' in value \"${{{var}}}\"", *_jvm_frames(
            "org.springframework.util.PlaceholderResolutionException.withValue(PlaceholderResolutionException.java:81)"
            " ~[spring-core-6.1.14.jar!/:6.1.14]",
            "org.springframework.util.PlaceholderParser$ParsedValue.resolve(PlaceholderParser.java:423) "
            "~[spring-core-6.1.14.jar!/:6.1.14]"), "\t... 42 common frames omitted", ""]]
    return out


def bad_flag(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, flag: str) -> Log:
    """Go's ``flag`` package rejecting an argument (exit status 2), with its usage text."""
    usage = [f"flag provided but not defined: -{flag}", f"Usage of /usr/local/bin/{app.name}:",
             "  -config string", f"    \tpath to the config file (default \"/etc/{app.name}/config.yaml\")",
             "  -http-addr string", f'    \taddress to serve HTTP on (default ":{app.port}")',
             "  -log-level string", '    \tlog level: debug, info, warn, error (default "info")']
    return [(end, s) for s in usage]


def db_unreachable(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, host: str, ip: str,
                   port: int, dns_ip: str, nxdomain: bool) -> Log:
    """Start-up fails to reach the database: connection refused, or the name does not resolve."""
    if app.runtime == "go":
        err = (f"dial tcp: lookup {host} on {dns_ip}:53: no such host" if nxdomain
               else f"dial tcp {ip}:{port}: connect: connection refused")
        out = startup(app, start, rng, pod=pod)[:1]
        for i in range(1, 6):
            t = start + timedelta(seconds=i * 1.0 + rng.uniform(0, 0.05))
            out.append((t, line(app, t, "WARN", "database not ready, retrying", attempt=i, error=err)))
        out.append((end, line(app, end, "ERROR", "failed to connect to database", host=host, error=err)))
        return out
    if app.runtime == "java":
        return _hikari(app, start, end, rng, host, port, nxdomain)
    if nxdomain:
        tail = [f'psycopg2.OperationalError: could not translate host name "{host}" to address: '
                "Name or service not known", ""]
    else:
        tail = [f'psycopg2.OperationalError: connection to server at "{host}" ({ip}), port {port} failed: '
                "Connection refused", "\tIs the server running on that host and accepting TCP/IP connections?", ""]
    pkg = app.name.replace("-", "_")
    return [(end, s) for s in [
        "INFO:     Started server process [1]", "INFO:     Waiting for application startup.",
        "ERROR:    Traceback (most recent call last):",
        '  File "/app/.venv/lib/python3.12/site-packages/starlette/routing.py", line 693, in lifespan',
        "    async with self.lifespan_context(app) as maybe_state:",
        f'  File "/app/src/{pkg}/db.py", line 27, in connect',
        "    conn = psycopg2.connect(dsn, connect_timeout=5)",
        '  File "/app/.venv/lib/python3.12/site-packages/psycopg2/__init__.py", line 122, in connect',
        "    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)", *tail,
        "ERROR:    Application startup failed. Exiting."]]


def _hikari(app: AppSpec, start: datetime, end: datetime, rng: Rand, host: str, port: int, nxdomain: bool) -> Log:
    out = startup(app, start, rng, pod="", db=False)[:16]
    t = end - _ms(600)
    out.append((t, line(app, t, "INFO", "HikariPool-1 - Starting...", logger="com.zaxxer.hikari.HikariDataSource")))
    out.append((end, line(app, end, "ERROR", "HikariPool-1 - Exception during pool initialization.",
                          logger="com.zaxxer.hikari.pool.HikariPool")))
    if nxdomain:
        exc = ["org.postgresql.util.PSQLException: The connection attempt failed.",
               *_jvm_frames("org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl"
                            ".java:354) ~[postgresql-42.7.4.jar!/:42.7.4]"),
               f"Caused by: java.net.UnknownHostException: {host}"]
    else:
        exc = [f"org.postgresql.util.PSQLException: Connection to {host}:{port} refused. Check that the hostname and "
               "port are correct and that the postmaster is accepting TCP/IP connections.",
               *_jvm_frames("org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl"
                            ".java:352) ~[postgresql-42.7.4.jar!/:42.7.4]",
                            "org.postgresql.core.ConnectionFactory.openConnection(ConnectionFactory.java:54) "
                            "~[postgresql-42.7.4.jar!/:42.7.4]"),
               "Caused by: java.net.ConnectException: Connection refused"]
    return out + [(end, s) for s in ["", *exc, *_jvm_frames("java.base/sun.nio.ch.Net.pollConnect(Native Method) "
                                                             "~[na:na]"), "\t... 27 common frames omitted", ""]]


def bad_config(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, path: str,
               problem: str) -> Log:
    """Start-up rejects the mounted configuration file; ``problem`` is the parser's own message."""
    if app.runtime == "java":
        out = startup(app, start, rng, pod="")[:11]
        return out + [(end, s) for s in [
            line(app, end, "ERROR", "", logger="o.s.b.d.LoggingFailureAnalysisReporter"), "",
            "***************************", "APPLICATION FAILED TO START", "***************************", "",
            "Description:", "", problem, "", "Action:", "", "Update your application's configuration", ""]]
    if app.runtime == "python":
        return [(end, s) for s in ["Traceback (most recent call last):",
                                   f'  File "/app/src/{app.name.replace("-", "_")}/config.py", line 18, in load',
                                   "    return yaml.safe_load(fh)", *problem.splitlines()]]
    if app.runtime == "node":
        return [(end, s) for s in [f"{path}: {problem}", "    at JSON.parse (<anonymous>)",
                                   "    at loadConfig (/app/dist/config.js:9:21)", "", "Node.js v22.11.0"]]
    out = startup(app, start, rng, pod=pod)[:1]
    return out + [(end, line(app, end, "ERROR", "failed to load config", path=path, error=problem))]


def probe_killed(app: AppSpec, start: datetime, end: datetime, rng: Rand, *, pod: str, graceful: bool,
                 slow_health: bool) -> Log:
    """A process that serves traffic until the kubelet kills it for failing its liveness probe."""
    out = startup(app, start, rng, pod=pod)
    ready = out[-1][0]
    out += traffic(app, ready, end - timedelta(seconds=2), rng, pod=pod, lines=rng.randrange(8, 16))
    t = ready + timedelta(seconds=(end - ready).total_seconds() * 0.55)
    if slow_health:
        out.append((t, line(app, t, "WARN", "slow request", pod=pod, path=app.live_path, duration_ms=1874)))
    else:
        out.append((t, line(app, t, "ERROR", "health check failed", pod=pod, check="worker-pool",
                            error="no idle workers for 30s")))
    return out + (shutdown(app, end) if graceful else [])
