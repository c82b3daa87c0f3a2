"""The namespaces every cluster has: ``default``, ``kube-system`` and kube-prometheus-stack's
``monitoring`` (whose kube-state-metrics pod names itself in object-level alerts)."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from . import k8s
from ._rand import safe_encode
from .alerts import StackLabels
from .behaviours import run_healthy
from .cluster import ClusterBuilder
from .controllers import DaemonSet, klog, stateful_pod, static_pod
from .profiles import NodeInfo
from .workload import Deployment

__all__ = ["add_system"]


def _svc(cb: ClusterBuilder, ns: str, name: str, labels: dict[str, str], selector: dict[str, str] | None,
         ports: list[tuple[str, int, int | str, str]], ip: str | None = None) -> None:
    created = cb.namespaces[cb.namespace(ns)] + timedelta(minutes=cb.rng.randrange(2, 40))
    cb.add(ns, "services", k8s.service(
        name, ns, uid=cb.rng.uid(), rv=cb.rv(created), created=created, labels=labels, selector=selector,
        ports=[{"name": n, "protocol": proto, "port": p, "targetPort": t} for n, p, t, proto in ports],
        cluster_ip=ip or cb.service_ip()))


def _simple(name: str, image: str, ports: list[tuple[str, int]], *, args: list[str] | None = None,
            sa: str | None = None, mem: str = "128Mi", cpu: str = "100m") -> dict[str, Any]:
    c = k8s.container(name, image, ports=ports, args=args, hardened=False,
                      resources={"limits": {"memory": mem}, "requests": {"cpu": cpu, "memory": mem}})
    return {"metadata": {"creationTimestamp": None, "labels": {}},
            "spec": k8s.template_spec([c], service_account=sa or name)}


def _labelled(tpl: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    tpl["metadata"]["labels"] = labels
    return tpl


def add_system(cb: ClusterBuilder) -> None:
    """default, kube-system and monitoring with healthy, long-running components."""
    for ns in ("default", "kube-node-lease", "kube-public", "kube-system"):
        cb.namespace(ns, cb.node_booted[cb.nodes[0].name] - timedelta(days=cb.rng.randrange(30, 300)))
    api_port = 6443 if cb.profile.provider == "kubeadm" else 443
    _svc(cb, "default", "kubernetes", {"component": "apiserver", "provider": "kubernetes"}, None,
         [("https", 443, api_port, "TCP")], ip=f"{cb.profile.service_prefix}.0.1")
    _kube_system(cb)
    _monitoring(cb)


def _kube_system(cb: ClusterBuilder) -> None:
    p, ns = cb.profile, "kube-system"
    created = cb.namespaces[ns]
    dns_labels = {"k8s-app": "kube-dns"}
    if p.provider == "gke":
        image = "gke.gcr.io/k8s-dns-kube-dns:1.26.4-gke.6"
        name = "kube-dns"
    elif p.provider == "eks":
        image = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/coredns:v1.11.4-eksbuild.20"
        name = "coredns"
    else:
        image, name = "registry.k8s.io/coredns/coredns:v1.12.1", "coredns"
    dep = Deployment(cb, ns, name, replicas=2, created=created, labels={**dns_labels, "kubernetes.io/name": "CoreDNS"},
                     selector=dns_labels, max_unavailable="1")
    tpl = _labelled(_simple(name, image, [("dns", 53), ("metrics", 9153)], args=["-conf", "/etc/coredns/Corefile"],
                            mem="170Mi"), dns_labels)
    rev = dep.revision(tpl, created=created + timedelta(minutes=1), replicas=2)
    for node in cb.workers()[:2]:
        pod = dep.pod(rev, created=cb.node_booted[node.name] + timedelta(minutes=2), node=node)
        started = cb.node_booted[node.name] + timedelta(minutes=2, seconds=4)
        run_healthy(cb, pod, None, started=started, log=_coredns_log(image))
    dep.finish()
    _svc(cb, ns, "kube-dns", {**dns_labels, "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
         dns_labels, [("dns", 53, 53, "UDP"), ("dns-tcp", 53, 53, "TCP"), ("metrics", 9153, 9153, "TCP")],
         ip=p.dns_ip)
    _svc(cb, ns, "kube-prometheus-stack-kubelet",
         {"app.kubernetes.io/managed-by": "prometheus-operator", "app.kubernetes.io/name": "kubelet",
          "k8s-app": "kubelet"}, None,
         [("https-metrics", 10250, 10250, "TCP"), ("http-metrics", 10255, 10255, "TCP"),
          ("cadvisor", 4194, 4194, "TCP")], ip="None")
    proxy_image = {"eks": "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:v1.32.6-minimal-eksbuild.12",
                   "gke": "gke.gcr.io/kube-proxy-amd64:v1.33.4-gke.1350000"}.get(p.provider,
                                                                                 "registry.k8s.io/kube-proxy:v1.35.0")
    proxy = _labelled(_simple("kube-proxy", proxy_image, [], sa="kube-proxy"), {"k8s-app": "kube-proxy"})
    if p.provider == "gke":
        for node in cb.nodes:
            static_pod(cb, ns, "kube-proxy", node, proxy, logs={"kube-proxy": _proxy_log(cb, node)})
    else:
        DaemonSet(cb, ns, "kube-proxy", proxy, created=created, labels={"k8s-app": "kube-proxy"},
                  selector={"k8s-app": "kube-proxy"}, host_network=True,
                  logs=lambda pod, node, t: {"kube-proxy": _proxy_log(cb, node, t)})
    if p.provider == "eks":
        cni = _labelled(_simple("aws-node", "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.20.1-"
                                "eksbuild.3", [("metrics", 61678)]), {"k8s-app": "aws-node"})
        DaemonSet(cb, ns, "aws-node", cni, created=created, labels={"k8s-app": "aws-node"},
                  selector={"k8s-app": "aws-node"}, host_network=True, generation=3,
                  logs=lambda pod, node, t: {"aws-node": _cni_log(t)})
    if p.provider == "kubeadm":
        cp = [n for n in cb.nodes if n.role == "control-plane"]
        for node in cp:
            for comp in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
                tpl = _labelled(_simple(comp, f"registry.k8s.io/{comp}:{'3.6.4-0' if comp == 'etcd' else 'v1.35.0'}",
                                        []), {"component": comp, "tier": "control-plane"})
                static_pod(cb, ns, comp, node, tpl, logs={comp: _klog_start(cb, node, comp)})


def _monitoring(cb: ClusterBuilder) -> None:
    ns = cb.namespace("monitoring")
    created = cb.namespaces[ns]
    home = cb.workers()[0]
    release = {"app.kubernetes.io/instance": "kube-prometheus-stack", "app.kubernetes.io/managed-by": "Helm"}
    ksm_labels = {"app.kubernetes.io/name": "kube-state-metrics", "app.kubernetes.io/instance": "kube-prometheus-stack"}
    ksm = Deployment(cb, ns, "kube-prometheus-stack-kube-state-metrics", replicas=1, created=created,
                     labels={**release, **ksm_labels, "app.kubernetes.io/version": "2.16.0"}, selector=ksm_labels)
    tpl = _labelled(_simple("kube-state-metrics", "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
                            [("http", 8080)], args=["--port=8080", "--resources=certificatesigningrequests,configmaps,"
                                                    "cronjobs,daemonsets,deployments,endpoints,"
                                                    "horizontalpodautoscalers,jobs,namespaces,nodes,pods,"
                                                    "replicasets,services,statefulsets"],
                            sa="kube-prometheus-stack-kube-state-metrics"), ksm_labels)
    rev = ksm.revision(tpl, created=created + timedelta(days=2), replicas=1, number=4)
    started = cb.node_booted[home.name] + timedelta(minutes=3)
    pod = ksm.pod(rev, created=started - timedelta(seconds=4), node=home)
    run_healthy(cb, pod, None, started=started, log={"kube-state-metrics": _ksm_log(started)})
    ksm.finish()
    cb.stack = StackLabels(pod.name, pod.ip)
    _svc(cb, ns, "kube-prometheus-stack-kube-state-metrics", {**release, **ksm_labels}, ksm_labels,
         [("http", 8080, "http", "TCP")])
    _operator(cb, ns, created, release, home)
    ne_labels = {"app.kubernetes.io/name": "prometheus-node-exporter",
                 "app.kubernetes.io/instance": "kube-prometheus-stack"}
    ne = _labelled(_simple("node-exporter", "quay.io/prometheus/node-exporter:v1.9.1", [("http-metrics", 9100)],
                           sa="kube-prometheus-stack-prometheus-node-exporter"), ne_labels)
    DaemonSet(cb, ns, "kube-prometheus-stack-prometheus-node-exporter", ne, created=created, labels={**release, **ne_labels},
              selector=ne_labels, host_network=True, logs=lambda p, n, t: {"node-exporter": _ne_log(t)})
    _svc(cb, ns, "kube-prometheus-stack-prometheus-node-exporter", {**release, **ne_labels}, ne_labels,
         [("http-metrics", 9100, 9100, "TCP")])
    for sts, comp, image, port in (
            ("prometheus-kube-prometheus-stack-prometheus", "prometheus", "quay.io/prometheus/prometheus:v3.5.0", 9090),
            ("alertmanager-kube-prometheus-stack-alertmanager", "alertmanager",
             "quay.io/prometheus/alertmanager:v0.28.1", 9093)):
        labels = {"app.kubernetes.io/name": comp, "app.kubernetes.io/instance": sts.split("-", 1)[1],
                  "app.kubernetes.io/managed-by": "prometheus-operator", comp: sts.split("-", 1)[1]}
        tpl = _labelled(_simple(comp, image, [("http-web", port)], sa=f"kube-prometheus-stack-{comp}",
                                mem="2Gi" if comp == "prometheus" else "256Mi"), labels)
        reloader = k8s.container("config-reloader", _RELOADER, ports=[("reloader-web", 8080)], hardened=True,
                                 args=["--listen-address=:8080", f"--reload-url=http://127.0.0.1:{port}/-/reload"])
        tpl["spec"]["containers"].append(reloader)
        tpl["spec"]["initContainers"] = [k8s.container("init-config-reloader", _RELOADER, hardened=True,
                                                       args=["--watch-interval=0", "--listen-address=:8081"])]
        stateful_pod(cb, ns, sts, cb.rng.uid(), 0, tpl, node=home, created=started + timedelta(seconds=40),
                     revision=safe_encode(str(cb.rng.randrange(10**8, 2**32))), service=f"{comp}-operated",
                     logs=functools.partial(_stack_logs, comp, port))
        _svc(cb, ns, f"kube-prometheus-stack-{comp}", {**release, "app": f"kube-prometheus-stack-{comp}"},
             {"app.kubernetes.io/name": comp, comp: sts.split("-", 1)[1]}, [("http-web", port, port, "TCP")])


_RELOADER = "quay.io/prometheus-operator/prometheus-config-reloader:v0.85.0"


def _operator(cb: ClusterBuilder, ns: str, created: datetime, release: dict[str, str], node: NodeInfo) -> None:
    labels = {"app": "kube-prometheus-stack-operator", "release": "kube-prometheus-stack"}
    dep = Deployment(cb, ns, "kube-prometheus-stack-operator", replicas=1, created=created,
                     labels={**release, **labels, "app.kubernetes.io/name": "kube-prometheus-stack-prometheus-operator"},
                     selector=labels)
    tpl = _labelled(_simple("kube-prometheus-stack", "quay.io/prometheus-operator/prometheus-operator:v0.85.0",
                            [("https", 10250)], sa="kube-prometheus-stack-operator"), labels)
    rev = dep.revision(tpl, created=created + timedelta(days=2), replicas=1, number=4)
    started = cb.node_booted[node.name] + timedelta(minutes=3, seconds=9)
    pod = dep.pod(rev, created=started - timedelta(seconds=3), node=node)
    ts = started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    log = (f'time={ts} level=INFO source=main.go:203 msg="Starting Prometheus Operator" version="(version=0.85.0, '
           'branch=, revision=0a9a5e1)"\n'
           f'time={ts} level=INFO source=server.go:284 msg="starting secure server" address=[::]:10250 http2=false\n'
           f'time={ts} level=INFO source=operator.go:436 msg="successfully synced all caches" '
           'component=prometheus-controller\n')
    run_healthy(cb, pod, None, started=started, log=log)
    dep.finish()


def _stack_logs(comp: str, port: int, t0: datetime) -> dict[str, str]:
    """Logs of a Prometheus/Alertmanager pod whose containers started at ``t0``."""
    return {comp: _prom_log(comp, t0 + timedelta(seconds=0.4)),
            "config-reloader": _reloader_log(t0 + timedelta(seconds=0.3), port),
            "init-config-reloader": _reloader_log(t0 - timedelta(seconds=2.3), port, init=True)}


def _reloader_log(t: datetime, port: int, *, init: bool = False) -> str:
    ts = t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    lines = [f'time={ts} level=INFO source=main.go:153 msg="Starting prometheus-config-reloader" '
             'version="(version=0.85.0, branch=, revision=0a9a5e1)"']
    if not init:
        lines += [f'time={ts} level=INFO source=reloader.go:282 msg="reloading via HTTP"',
                  f'time={ts} level=INFO source=reloader.go:330 msg="Reload triggered" '
                  f'cfg_in=/etc/prometheus/config/prometheus.yaml.gz cfg_out=/etc/prometheus/config_out/'
                  f'prometheus.env.yaml cfg_dirs= port={port}']
    return "".join(line + "\n" for line in lines)


# -- component logs -----------------------------------------------------------------------------
def _coredns_log(image: str) -> str:
    version = image.rsplit(":v", 1)[-1].split("-")[0]
    return (".:53\n[INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc490481273e738df59329c62c0b729d9"
            "4e8b61db9961c2fa5f046dd37f1cf888b953814040d180f52594972691cd6ff41be96639138a43908\n"
            f"CoreDNS-{version}\nlinux/amd64, go1.24.2, 707c7c1\n")


def _proxy_log(cb: ClusterBuilder, node: NodeInfo, t: datetime | None = None) -> str:
    t = t or cb.node_booted[node.name] + timedelta(seconds=5)
    lines = [("server_linux.go:66", '"Using iptables proxy"'),
             ("server.go:715", f'"Successfully retrieved node IP(s)" IPs=["{node.ip}"]'),
             ("server_linux.go:132", '"Using iptables Proxier"'),
             ("server.go:256", '"kube-proxy running in dual-stack mode" primary ipFamily="IPv4"'),
             ("config.go:199", '"Starting service config controller"'),
             ("shared_informer.go:349", '"Waiting for caches to sync" controller="service config"'),
             ("shared_informer.go:356", '"Caches are synced" controller="service config"')]
    return "".join(klog(t + timedelta(milliseconds=37 * i), src, msg) + "\n" for i, (src, msg) in enumerate(lines))


def _klog_start(cb: ClusterBuilder, node: NodeInfo, comp: str) -> str:
    t = cb.node_booted[node.name] + timedelta(seconds=3)
    return klog(t, "flags.go:64", 'FLAG: --v="2"') + "\n" + klog(t, "server.go:160", f'"Starting {comp}" version="v1.35.0"') + "\n"


def _cni_log(t: datetime) -> str:
    ts = t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return (f'{{"level":"info","ts":"{ts}","caller":"entrypoint.sh","msg":"Validating env variables ..."}}\n'
            f'{{"level":"info","ts":"{ts}","caller":"entrypoint.sh","msg":"Install CNI binaries.."}}\n'
            f'{{"level":"info","ts":"{ts}","caller":"entrypoint.sh","msg":"Starting IPAM daemon... "}}\n'
            f'{{"level":"info","ts":"{ts}","caller":"entrypoint.sh","msg":"Checking for IPAM connectivity... "}}\n'
            f'{{"level":"info","ts":"{ts}","caller":"entrypoint.sh","msg":"Copying config file... "}}\n')


def _ksm_log(t: datetime) -> str:
    lines = [("wrapper.go:120", '"Starting kube-state-metrics"'), ("server.go:199", '"Used default resources"'),
             ("types.go:227", '"Using all namespaces"'), ("server.go:234", '"Metric allow-denylisting" '
              'allowDenyStatus="Excluding the following lists that were on denylist: "'),
             ("server.go:340", '"Started metrics server" metricsServerAddress="[::]:8080"'),
             ("server.go:329", '"Started kube-state-metrics self metrics server" telemetryAddress="[::]:8081"')]
    return "".join(klog(t + timedelta(milliseconds=5 * i), src, msg) + "\n" for i, (src, msg) in enumerate(lines))


def _ne_log(t: datetime) -> str:
    ts = t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return (f'time={ts} level=INFO source=node_exporter.go:216 msg="Starting node_exporter" '
            'version="(version=1.9.1, branch=HEAD, revision=f2ec547b49af53815038a50265aa2adcd1275959)"\n'
            f'time={ts} level=INFO source=tls_config.go:347 msg="Listening on" address=[::]:9100\n'
            f'time={ts} level=INFO source=tls_config.go:350 msg="TLS is disabled." http2=false address=[::]:9100\n')


def _prom_log(comp: str, t: datetime) -> str:
    ts = t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if comp == "alertmanager":
        return (f'time={ts} level=INFO source=main.go:191 msg="Starting Alertmanager" version="(version=0.28.1, '
                'branch=HEAD, revision=b2099eaa2c9ebc25edb26517cb9c732738e93910)"\n'
                f'time={ts} level=INFO source=coordinator.go:125 msg="Completed loading of configuration file" '
                'file=/etc/alertmanager/config_out/alertmanager.env.yaml\n'
                f'time={ts} level=INFO source=tls_config.go:347 msg="Listening on" address=[::]:9093\n')
    return (f'time={ts} level=INFO source=main.go:1528 msg="updated GOGC" old=100 new=75\n'
            f'time={ts} level=INFO source=main.go:676 msg="Starting Prometheus Server" mode=server '
            'version="(version=3.5.0, branch=HEAD, revision=8be3a9560fbdd18a94dedec4b747c35178177202)"\n'
            f'time={ts} level=INFO source=main.go:1475 msg="Server is ready to receive web requests."\n'
            f'time={ts} level=INFO source=manager.go:190 msg="Starting rule manager..." component="rule manager"\n')
