"""Every message and log-line pattern the detectors read, in one place.

Two families: what Kubernetes components print (kubelet, scheduler, controllers; the formats are
in ``shared/reference/real-formats.md`` §3 and the real strings in ``samples/k8s``), and what
application runtimes print when they fail (§5, ``samples/app-logs``). Each pattern names the
program that prints it. Patterns are matched with ``search`` on one line (or on a short window of
lines for the multi-line ones), case-sensitively unless the pattern says otherwise, because the
runtimes print fixed strings.
"""

from __future__ import annotations

import re

R = re.compile
I = re.IGNORECASE  # noqa: E741

# ---------------------------------------------------------------------------------------------
# Kubernetes event messages
# ---------------------------------------------------------------------------------------------

# kube-apiserver event aggregation (client-go EventCorrelator) prefixes repeated messages.
COMBINED_PREFIX = "(combined from similar events): "

# kubelet Created/Started: "Created container X" (1.14-~1.32), "Created container: X" (2025-era),
# "Container created" (1.35+, PR #134043); same drift for Started. Old kubelets: "Created container".
CREATED = R(r"^(?:Created container(?::? (?P<c>\S+))?|Container created)$")
STARTED = R(r"^(?:Started container(?::? (?P<c>\S+))?|Container started)$")

# kubelet image manager (pkg/kubelet/images/image_manager.go): 'Failed to pull image "%s": %v'.
PULL_FAILED = R(r'Failed to pull image "(?P<image>[^"]+)": (?P<err>.*)', re.S)
# kubelet: 'Back-off pulling image "%s"' (event, type Normal) and waiting.message with the cause.
PULL_BACKOFF = R(r'Back-off pulling image "(?P<image>[^"]+)"(?:: (?P<err>.*))?', re.S)
# kubelet: 'Container image "%s" is not present with pull policy of Never'.
NEVER_PULL = R(r'Container image "(?P<image>[^"]+)" is not present with pull policy of Never')
# kubelet: 'Failed to apply default image tag "%s": couldn't parse image reference ...' (InvalidImageName)
INVALID_IMAGE = R(
    r'(?:Failed to apply default image tag|couldn\'t parse image (?:reference|name)) "(?P<image>[^"]+)"'
)
# Registry answers inside the pull error (containerd, dockerd, CRI-O).
REGISTRY_NOT_FOUND = R(
    r"not found|manifest unknown|NotFound|repository does not exist|name unknown|"
    r"no matching manifest",
    I,
)
REGISTRY_UNAUTHORIZED = R(
    r"unauthorized|authentication required|access denied|denied:|pull access denied|"
    r"401 Unauthorized|403 Forbidden|insufficient_scope|no basic auth credentials",
    I,
)
REGISTRY_UNREACHABLE = R(
    r"no such host|i/o timeout|connection refused|dial tcp|lookup \S+ on \S+|"
    r"TLS handshake timeout|network is unreachable|context deadline exceeded",
    I,
)
REGISTRY_RATE_LIMITED = R(r"toomanyrequests|rate limit", I)

# kubelet kuberuntime_container.go / kubelet_pods.go, the CreateContainerConfigError messages:
# 'secret "x" not found', older plural 'secrets "x" not found', 'configmap(s) "x" not found',
# "couldn't find key K in ConfigMap ns/name" / "... in Secret ns/name".
MISSING_OBJECT = R(r'\b(?P<kind>secret|configmap)s? "(?P<name>[^"]+)" not found', I)
MISSING_KEY = R(r"couldn't find key (?P<key>\S+) in (?P<kind>ConfigMap|Secret) (?P<ns>[^/\s]+)/(?P<name>\S+)")
# kubelet operation_generator: 'MountVolume.SetUp failed for volume "v" : <err>'.
MOUNT_SETUP_FAILED = R(r'MountVolume\.SetUp failed for volume "(?P<volume>[^"]+)" : (?P<err>.*)', re.S)
# kubelet volume manager: "Unable to attach or mount volumes: unmounted volumes=[a b], ...".
UNMOUNTED_VOLUMES = R(r"Unable to attach or mount volumes: unmounted volumes=\[(?P<vols>[^\]]*)\]")
# attachdetach-controller: 'Multi-Attach error for volume "pvc-..." Volume is already ...'.
MULTI_ATTACH = R(r'Multi-Attach error for volume "(?P<volume>[^"]+)"')
# kubelet/CSI: MountDevice / attach failures and "no space left on device" when writing.
MOUNT_DEVICE_FAILED = R(
    r"MountVolume\.(?:MountDevice|WaitForAttach|NewMounter initialization) failed|"
    r'AttachVolume\.Attach failed for volume "(?P<volume>[^"]+)"'
)
# scheduler volume binding: "pod has unbound immediate PersistentVolumeClaims",
# 'persistentvolumeclaim "x" not found' / 'persistentvolumeclaim "x" is being deleted'.
PVC_PROBLEM = R(
    r'unbound immediate PersistentVolumeClaims|persistentvolumeclaim "(?P<pvc>[^"]+)" '
    r"(?:not found|is being deleted)|volume node affinity conflict",
    I,
)

# kubelet prober (pkg/kubelet/prober): "%s probe failed: %s" with Liveness/Readiness/Startup.
PROBE_FAILED = R(r"^(?P<probe>Liveness|Readiness|Startup) probe failed: ?(?P<detail>.*)", re.S)
# a probe that got no answer in time: HTTP "context deadline exceeded (Client.Timeout exceeded while
# awaiting headers)", TCP "dial tcp ...: i/o timeout", exec "command ... timed out".
PROBE_TIMEOUT = R(r"context deadline exceeded|Client\.Timeout exceeded|i/o timeout|timed out", I)
# kubelet killContainer: "Container %s failed liveness probe, will be restarted" (also startup);
# <1.14: "Killing container with id docker://x:Container failed liveness probe.. Container will be ..."
PROBE_KILL = R(
    r"Container (?P<c>\S+) failed (?P<probe>liveness|startup) probe, will be restarted|"
    r"Killing container with id \S+?://(?P<c_old>[^:]+):Container failed (?P<probe_old>liveness) probe"
)

# scheduler FitError: "0/%v nodes are available: %v." then optionally " preemption: ...".
NODES_AVAILABLE = R(r"(?P<avail>\d+)/(?P<total>\d+) nodes are available")
# the counted reasons of a FitError ("1 Insufficient cpu", "2 node(s) had untolerated taint {...}").
COUNTED_REASON = R(r"^(?P<n>\d+) (?P<reason>.+?)\.?$")
# scheduler <=1.9: "No nodes are available that match all of the predicates: Insufficient pods (1), ..."
LEGACY_PREDICATES = R(
    r"No nodes are available that match all of the (?:following )?predicates:? (?P<reasons>.*)"
)
# scheduler noderesources plugin: "Insufficient cpu", "Insufficient memory", "Insufficient pods",
# "Insufficient nvidia.com/gpu", "Insufficient ephemeral-storage".
INSUFFICIENT = R(r"Insufficient (?P<res>[\w./-]+)")
# scheduler taint/affinity plugins (current and older wordings, and <=1.9 predicate names).
UNTOLERATED_TAINT = R(
    r"untolerated taint \{(?P<taint>[^}]*)\}|had taints? that the pod didn't tolerate|"
    r"PodToleratesNodeTaints"
)
AFFINITY_MISMATCH = R(
    r"didn't match (?:Pod's node affinity(?:/selector)?|node selector|pod affinity rules|"
    r"pod anti-affinity rules|pod topology spread constraints)|didn't satisfy existing pods "
    r"anti-affinity rules|MatchNodeSelector|MatchInterPodAffinity|node\(s\) didn't have free ports"
)
UNSCHEDULABLE_NODES = R(
    r"node\(s\) were unschedulable|NodeUnschedulable|node\(s\) had taint \{node\.kubernetes"
    r"\.io/unschedulable"
)
# kubelet admission: "Node didn't have enough resource: cpu, requested: 500, used: 1775, capacity: 2000"
# (event reasons OutOfcpu / OutOfmemory / OutOfpods; pod status.reason the same).
KUBELET_ADMISSION = R(
    r"Node didn't have enough resource: (?P<res>[\w./-]+), requested: (?P<req>\d+), "
    r"used: (?P<used>\d+), capacity: (?P<cap>\d+)"
)
# kube-apiserver ResourceQuota admission (replicaset-controller FailedCreate "Error creating: ...").
QUOTA_EXCEEDED = R(r"exceeded quota: (?P<quota>[\w.-]+)")
# replicaset-controller FailedCreate: 'serviceaccount "x" not found'.
MISSING_SERVICE_ACCOUNT = R(r'serviceaccount "(?P<name>[^"]+)" not found')

# node-controller: "Node %s status is now: NodeNotReady"; pods: "Node is not ready".
NODE_NOT_READY_EVENT = R(r"status is now: NodeNotReady|^Node is not ready")
# taint-eviction-controller / node controller (<=1.8): "Marking for deletion Pod %s".
MARKED_FOR_DELETION = R(r"^Marking for deletion Pod ")
# kubelet eviction manager (pkg/kubelet/eviction/helpers.go).
NODE_LOW_ON = R(r"The node was low on resource: (?P<res>[\w-]+)\.")
EPHEMERAL_LIMIT = R(
    r"ephemeral local storage usage exceeds the total limit|"
    r"Container \S+ exceeded its local ephemeral storage limit",
    I,
)
# node-problem-detector kernel monitor (OOMKilling, on the Node): "Killed process 300907 (java) ...",
# kubelet SystemOOM: "System OOM encountered, victim process: java, pid: 4012".
NPD_KILLED = R(r"Killed process \d+ \((?P<proc>[^)]+)\)")
NPD_CGROUP_OOM = R(r"Memory cgroup out of memory|Out of memory: Kill(?:ed)? process")
SYSTEM_OOM = R(r"System OOM encountered(?:, victim process: (?P<proc>[^,]+))?")
# job-controller conditions/events.
JOB_BACKOFF = R(r"Job has reached the specified backoff limit")
JOB_DEADLINE = R(r"Job was active longer than specified deadline")
# containerd/runc StartError (exit 128) and dockershim ContainerCannotRun.
EXEC_NOT_FOUND = R(
    r'exec: "(?P<exe>[^"]+)": (?:executable file not found in \$PATH|stat \S+: no such file or '
    r"directory|permission denied)|exec format error|no such file or directory: unknown"
)
# kubelet CreateContainerConfigError from a securityContext that cannot hold.
SECURITY_CONTEXT_CONFIG = R(r"container has runAsNonRoot and image (?:will run as root|has non-numeric user)")

# ---------------------------------------------------------------------------------------------
# Application log lines
# ---------------------------------------------------------------------------------------------

# -- out of memory inside the process ---------------------------------------------------------
HEAP_OOM = [
    R(r"java\.lang\.OutOfMemoryError(?:: (?P<what>.*))?"),  # JVM (HotSpot/OpenJ9)
    R(r"JavaScript heap out of memory"),  # Node.js (V8): "FATAL ERROR: ... JavaScript heap out of memory"
    R(r"fatal error: runtime: out of memory"),  # Go runtime
    R(r"^MemoryError\b|\bMemoryError$"),  # CPython
    R(r"Cannot allocate memory|std::bad_alloc"),  # glibc/C++ runtimes
]

# -- configuration missing or invalid ----------------------------------------------------------
CONFIG = [
    R(r"(?P<var>[A-Za-z_][A-Za-z0-9_]*): unbound variable"),  # bash/sh with `set -u`
    R(
        r"Could not resolve placeholder '(?P<var>[^']+)'"
    ),  # Spring (5: IllegalArgumentException, 6: PlaceholderResolutionException)
    R(r"flag provided but not defined: (?P<var>-\S+)"),  # Go `flag` package
    R(r"unknown (?:shorthand )?flag:? (?P<var>'?-\S+)"),  # Go cobra/pflag
    R(r"error: unrecognized arguments: (?P<var>.+)"),  # Python argparse
    R(r"error: the following arguments are required: (?P<var>.+)"),  # Python argparse
    R(
        r"(?i:environment variable|env var)s? [\"'`]?(?P<var>[A-Z][A-Z0-9_]+)[\"'`]? (?i:is )?"
        r"(?i:not set|missing|required|must be set|undefined|empty)"
    ),  # hand-written checks, any language
    R(
        r"(?i:missing|required|undefined) (?i:environment variable|env var)s?:? [\"'`]?(?P<var>[A-Z][A-Z0-9_]+)"
    ),  # same
    R(r"KeyError: '(?P<var>[A-Z][A-Z0-9_]+)'"),  # CPython os.environ['X']
    R(r'EnvVarError: env-var: "(?P<var>[^"]+)" is a required variable'),  # Node.js env-var package
    R(r"required key (?P<var>[A-Z][A-Z0-9_]*) missing value"),  # Go kelseyhightower/envconfig
    R(r"ValidationError: \d+ validation errors? for \w*(?:Settings|Config)\n(?P<field>\w+)\n\s+Field required"),  # pydantic-settings
    R(r"SyntaxError: .* in JSON at position \d+|Unexpected end of JSON input|is not valid JSON"),  # Node.js (V8) JSON.parse
    R(r"(?:invalid|bad|malformed) config(?:uration)?(?: file)?\b", I),  # many apps' "invalid configuration"
    R(
        r"(?:error|failed) (?:loading|parsing|reading|to load|to parse|to read) config(?:uration)?", I
    ),  # many apps
    R(
        r"yaml: (?:line \d+: )?(?:did not find|mapping values|could not find|found character|unmarshal errors|"
        r"control characters|block sequence)"
    ),  # Go gopkg.in/yaml
    R(
        r"yaml\.(?:scanner\.ScannerError|parser\.ParserError|constructor\.ConstructorError)|"
        r"while (?:parsing|scanning) a (?:block mapping|simple key|flow)"
    ),  # Python PyYAML
    R(r"json: cannot unmarshal|invalid character '.' looking for beginning"),  # Go encoding/json
    R(r"json\.decoder\.JSONDecodeError|JSONDecodeError: "),  # CPython json
    R(
        r"toml: line \d+|tomllib\.TOMLDecodeError|toml\.decoder\.TomlDecodeError"
    ),  # Go BurntSushi/toml, Python
    R(
        r"open (?P<var>\S+\.(?:ya?ml|json|toml|conf|ini|properties|cfg)): no such file or directory"
    ),  # Go os.Open
    R(r"FileNotFoundError: .*'(?P<var>[^']+\.(?:ya?ml|json|toml|conf|ini|cfg))'"),  # CPython open()
    R(r"nginx: \[emerg\]"),  # nginx config test
    R(r"APPLICATION FAILED TO START"),  # Spring Boot failure analyzer banner (config binding)
    R(r"Failed to bind properties under '(?P<var>[^']+)'"),  # Spring Boot
]

# -- dependency unreachable -------------------------------------------------------------------
# Each has named groups host and/or port when the line carries them.
DEPENDENCY_REFUSED = [
    R(r"dial tcp (?P<host>[^\s:]*):(?P<port>\d+): connect: connection refused"),  # Go net
    R(r"dial tcp (?P<host>[^\s:]*):(?P<port>\d+): getsockopt: connection refused"),  # Go net (<1.9)
    R(r"connect ECONNREFUSED (?P<host>[^\s:]+):(?P<port>\d+)"),  # Node.js net (ioredis, pg, ...)
    R(
        r'connection to server at "(?P<host>[^"]+)"(?: \([^)]*\))?, port (?P<port>\d+) failed: Connection refused'
    ),  # libpq >= 14
    R(
        r"could not connect to server: Connection refused\s*\n\s*Is the server running on host \"(?P<host>[^\"]+)\""
        r"[^\n]*\n\s*TCP/IP connections on port (?P<port>\d+)"
    ),  # libpq < 14 (psycopg2), three lines
    R(r"Connection to (?P<host>[^\s:]+):(?P<port>\d+) refused"),  # pgjdbc PSQLException
    R(r"Error 111 connecting to (?P<host>[^\s:]+):(?P<port>\d+)"),  # redis-py
    R(r"Can't connect to MySQL server on '(?P<host>[^']+)'(?::(?P<port>\d+))?"),  # MySQL client libs
    R(
        r"HTTPS?ConnectionPool\(host='(?P<host>[^']+)', port=(?P<port>\d+)\).*Connection refused"
    ),  # Python urllib3
    R(
        r"Connection to node -?\d+ \((?P<host>[^/\s]+)/[\d.]+:(?P<port>\d+)\) could not be established"
    ),  # Kafka Java client
    R(
        r"MongoNetworkError: (?:failed to connect to server \[(?P<host>[^\]:]+):(?P<port>\d+)\]|connect ECONNREFUSED)"
    ),  # Node mongodb
    R(r"java\.net\.ConnectException: Connection refused"),  # JVM, no host on the line
    R(r"could not connect to server: Connection refused"),  # libpq < 14 when the host lines are cut
]
DEPENDENCY_DNS = [
    R(r"dial tcp: lookup (?P<host>\S+?)(?: on \S+)?: no such host"),  # Go resolver
    R(r"lookup (?P<host>\S+?) on \S+: (?:no such host|server misbehaving)"),  # Go resolver (other callers)
    R(r"UnknownHostException: (?P<host>[^\s:]+)"),  # JVM java.net.UnknownHostException
    R(r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<host>\S+)"),  # Node.js dns
    R(r'could not translate host name "(?P<host>[^"]+)" to address'),  # libpq
    R(
        r"Temporary failure in name resolution|Name or service not known|nodename nor servname provided"
    ),  # glibc/CPython
]
DEPENDENCY_TIMEOUT = [
    R(r"dial tcp (?P<host>[^\s:]*):(?P<port>\d+): i/o timeout"),  # Go net
    R(r"connect ETIMEDOUT (?P<host>[^\s:]+):(?P<port>\d+)"),  # Node.js net
    R(
        r"connection to server at \"(?P<host>[^\"]+)\"(?: \([^)]*\))?, port (?P<port>\d+) failed: (?:timeout expired|"
        r"Connection timed out)"
    ),  # libpq >= 14
    R(
        r"HTTPS?ConnectionPool\(host='(?P<host>[^']+)', port=(?P<port>\d+)\).*(?:timed out|Timeout)"
    ),  # urllib3
]

# -- TLS -----------------------------------------------------------------------------------------
CERT = [
    R(r"x509: certificate has expired or is not yet valid"),  # Go crypto/x509
    R(r"x509: certificate signed by unknown authority"),  # Go crypto/x509
    R(r"x509: certificate is valid for \S+(?:, \S+)*, not \S+"),  # Go crypto/x509 (name mismatch)
    R(r"tls: failed to verify certificate"),  # Go >= 1.20 crypto/tls wrapper
    R(r"PKIX path building failed"),  # JVM sun.security.validator
    R(r"CertificateExpiredException|certificate_expired"),  # JVM / TLS alert
    R(r"SSL: CERTIFICATE_VERIFY_FAILED|certificate verify failed"),  # CPython ssl / OpenSSL
    R(r"CERT_HAS_EXPIRED|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN"),  # Node.js tls codes
]
# on a line one of CERT matched: does it say expired (Go, JVM, Node wordings) rather than untrusted?
CERT_EXPIRED = R(r"expired|not yet valid|CERT_HAS_EXPIRED", I)
# when it stopped being valid, where the client says: Go "current time X is after Y", JVM "NotAfter: <date>".
CERT_NOT_AFTER = R(r"is after (?P<t>[0-9T:.Z+-]+)|NotAfter: (?P<jvm>[^;)\"]+)")

# -- disk ----------------------------------------------------------------------------------------
DISK_FULL = [
    R(r"[Nn]o space left on device"),  # Linux ENOSPC as printed by Go, CPython, glibc strerror
    R(r"\bENOSPC\b"),  # Node.js fs
    R(r"could not extend file .*: No space left|database or disk is full"),  # PostgreSQL, SQLite
    R(r"Disk quota exceeded"),  # EDQUOT
]

# -- crashes (app_crash) -----------------------------------------------------------------------
CRASH_HEAD = [
    R(r"^panic: (?P<msg>.+)"),  # Go runtime panic
    R(r"^fatal error: (?P<msg>.+)"),  # Go runtime fatal error
    R(r"Observed a panic: (?P<msg>.+)"),  # k8s apimachinery HandleCrash (recovered, logged)
    R(r"^Traceback \(most recent call last\):"),  # CPython
    R(r"Exception in thread \"[^\"]+\" (?P<msg>\S+.*)"),  # JVM uncaught exception
    R(r"^(?:Caused by: )?(?P<msg>(?:[a-z]\w*\.)+[A-Z]\w*(?:Exception|Error)(?::.*)?)$"),  # JVM stack header
    R(r"thread '[^']+' panicked at (?P<msg>.+)"),  # Rust std
    R(r"^Unhandled [Ee]xception\.? (?P<msg>.+)"),  # .NET
    R(r"UnhandledPromiseRejection|throw er; // Unhandled 'error' event"),  # Node.js
    R(r"^(?P<msg>[A-Z]\w*(?:Error|Exception)(?: \[\w+\])?: [^\n]+)\n\s+at "),  # Node.js (V8) uncaught error + stack
    R(r"Segmentation fault|SIGSEGV|core dumped"),  # native crashes (glibc / Go signal report)
    R(r"^\S+:\d+:in `[^']+': (?P<msg>.+) \(\w+(?:::\w+)*\)$"),  # Ruby uncaught exception
]
# CPython's last traceback line ("ValueError: bad thing"), Node's "TypeError: x is not a function".
EXCEPTION_LINE = R(r"^(?P<msg>(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt)(?:: .*)?)$")

# Generated pod names (apimachinery name generator, "safe" alphabet without vowels and 0/1/3):
# ReplicaSet pods are <deployment>-<pod-template-hash>-<5>, StatefulSet pods <name>-<ordinal>.
# Used only to relate events of pods that no longer exist to their owner, never as a signal.
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
RS_POD_NAME = R(rf"^(?P<wl>.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
STS_POD_NAME = R(r"^(?P<wl>.+)-\d+$")
RS_NAME = R(rf"^(?P<wl>.+)-{_SAFE}{{6,10}}$")  # <deployment>-<pod-template-hash>

# kubectl cluster-info dump markers and log-fetch failures (never app output).
DUMP_NOISE = R(
    r"^==== (?:START|END) logs for container |^(?:Request|Create) log request error: |"
    r"^Request log error: "
)


def strip_combined(message: str | None) -> str:
    """An event message without the aggregation prefix the apiserver adds to repeats."""
    msg = message or ""
    while msg.startswith(COMBINED_PREFIX):
        msg = msg[len(COMBINED_PREFIX) :]
    return msg


def first_match(patterns: list[re.Pattern[str]], text: str) -> re.Match[str] | None:
    for p in patterns:
        m = p.search(text)
        if m:
            return m
    return None
