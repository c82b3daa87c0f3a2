"""Correlation v2 as DuckDB SQL over columns: the vectorised twin of :mod:`engine.correlation_rules`.

Tables in, tables out, no Python per alert: ``raw`` (see :mod:`engine.replay_io`) and optionally
``topology`` (cluster, namespace, ref, node, workload_kind, workload_name) and ``url_map`` (url,
cluster) become ``episodes`` (one row per (cluster, fingerprint, startsAt), with its grouping key,
final key and incident id) and ``incidents`` (one row per incident, with its fleet membership).
Each statement mirrors one rule of the reference module; the tests hold both to the same answers.
"""

from __future__ import annotations

import duckdb

from engine.config import CorrelationConfig
from engine.correlation_rules import INF, node_lead_us

__all__ = ["correlate_sql", "refleet_sql"]

_ZERO_US = -62135596800000000  # 0001-01-01T00:00:00Z, Alertmanager's "no end"


def _nz(col: str) -> str:
    return f"({col} IS NOT NULL AND {col} <> '')"


def _iso(us: str) -> str:
    """Python's ``datetime.isoformat()`` of a UTC instant given in µs (ids hash this text)."""
    return (f"(strftime(make_timestamp({us}), '%Y-%m-%dT%H:%M:%S') || CASE WHEN {us} % 1000000 = 0 THEN '' "
            f"ELSE '.' || lpad(CAST({us} % 1000000 AS VARCHAR), 6, '0') END || '+00:00')")


_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_RS, _STS, _GEN = f"^(.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$", r"^(.+)-(\d+)$", f"^(.+)-{_SAFE}{{5}}$"

_TARGET_KIND = f"""CASE
  WHEN {_nz('deployment')} THEN 'Deployment' WHEN {_nz('statefulset')} THEN 'StatefulSet'
  WHEN {_nz('daemonset')} THEN 'DaemonSet' WHEN {_nz('job_name')} THEN 'Job'
  WHEN {_nz('persistentvolumeclaim')} THEN 'PersistentVolumeClaim'
  WHEN {_nz('horizontalpodautoscaler')} THEN 'HorizontalPodAutoscaler'
  WHEN {_nz('node')} AND (starts_with(alertname, 'KubeNode') OR starts_with(alertname, 'Node')
       OR starts_with(alertname, 'Kubelet') OR NOT {_nz('pod')}) THEN 'Node'
  WHEN {_nz('pod')} THEN 'Pod' WHEN {_nz('namespace')} THEN 'Namespace' ELSE 'Cluster' END"""

_TARGET_NAME = """CASE tkind WHEN 'Deployment' THEN deployment WHEN 'StatefulSet' THEN statefulset
  WHEN 'DaemonSet' THEN daemonset WHEN 'Job' THEN job_name WHEN 'PersistentVolumeClaim' THEN persistentvolumeclaim
  WHEN 'HorizontalPodAutoscaler' THEN horizontalpodautoscaler WHEN 'Node' THEN node WHEN 'Pod' THEN pod
  WHEN 'Namespace' THEN namespace ELSE alertname END"""

# workload_from_pod_name: the first pattern that matches, else the pod's own name (each group is non-empty)
_WORKLOAD_GUESS = f"""coalesce(rs_wl, nullif(regexp_extract(tname, '{_STS}', 1), ''),
  nullif(regexp_extract(tname, '{_GEN}', 1), ''), tname)"""


def correlate_sql(con: duckdb.DuckDBPyConnection, cfg: CorrelationConfig, *, path_cluster: str | None = None,
                  topology: bool = False, url_map: bool = False) -> None:
    """Create ``episodes`` and ``incidents`` from ``raw`` (and ``topology``/``url_map`` when given)."""
    window = round(cfg.group_window_s * 1_000_000)
    lead, fleet_window = node_lead_us(cfg), round(cfg.fleet_window_s * 1_000_000)
    _episodes(con, path_cluster, url_map)
    _keys(con, topology)
    con.execute("DROP TABLE ep_raw")  # intermediate tables go as soon as used: peak memory
    _absorb(con, window, lead)
    _islands(con, window)
    con.execute("DROP TABLE ep; DROP TABLE wses; DROP TABLE hit; DROP TABLE nisl; DROP TABLE isl")
    _fleet(con, fleet_window)


def _episodes(con: duckdb.DuckDBPyConnection, path_cluster: str | None, url_map: bool) -> None:
    """Valid alerts (the webhook model's checks), their cluster, deduplicated to episodes: the first
    report of an episode gives its labels, the last its status and end (send order)."""
    mapped = "(SELECT m.cluster FROM url_map m WHERE m.url = rtrim(r.external_url, '/'))" if url_map else "NULL"
    cluster = f"coalesce(nullif(r.cluster, ''), {mapped}, 'unknown')"
    if path_cluster is not None:
        cluster = "$path_cluster"
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE ep_raw AS
    WITH v AS (SELECT r.seq, {cluster} AS cluster, lpad(lower(r.fingerprint), 16, '0') AS fingerprint, r.status,
                      epoch_us(TRY_CAST(r.startsAt AS TIMESTAMPTZ)) AS starts_us,
                      epoch_us(TRY_CAST(r.endsAt AS TIMESTAMPTZ)) AS ends_us
               FROM raw r
               WHERE r.status IN ('firing', 'resolved') AND {_nz('r.alertname')}
                 AND regexp_full_match(coalesce(r.fingerprint, ''), '[0-9a-fA-F]{{1,16}}')),
    g AS (SELECT cluster, fingerprint, starts_us, min(seq) AS first_seq, arg_max(status, seq) AS status,
                 arg_max(ends_us, seq) AS ends_us, count(*) AS reports
          FROM v WHERE starts_us IS NOT NULL GROUP BY cluster, fingerprint, starts_us)
    SELECT g.*, r.alertname, r.namespace, r.pod, r.node, r.deployment, r.statefulset, r.daemonset, r.job_name,
           r.persistentvolumeclaim, r.horizontalpodautoscaler, r.job, r.severity
    FROM g JOIN raw r ON r.seq = g.first_seq""", {"path_cluster": path_cluster} if path_cluster is not None else {})


def _keys(con: duckdb.DuckDBPyConnection, topology: bool) -> None:
    """Rule 1: target (alert_target), topology placement, grouping key and subject (grouping_key)."""
    join = ("LEFT JOIN topology p ON p.cluster = t.cluster AND p.namespace = t.tns AND p.ref = t.ref"
            if topology else "LEFT JOIN (SELECT NULL::VARCHAR AS ref, NULL::VARCHAR AS node, NULL::VARCHAR AS "
                             "workload_kind, NULL::VARCHAR AS workload_name) p ON false")
    pwn = _nz("p.workload_name")
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE ep AS
    WITH t0 AS (SELECT *, {_TARGET_KIND} AS tkind FROM ep_raw),
    t1 AS (SELECT *, {_TARGET_NAME} AS tname, CASE WHEN tkind IN ('Node', 'Cluster') THEN NULL ELSE namespace END AS tns
           FROM t0),
    t2 AS (SELECT *, CASE WHEN tkind = 'Pod' THEN nullif(regexp_extract(tname, '{_RS}', 1), '') END AS rs_wl
           FROM t1),
    t AS (SELECT *, CASE WHEN {_nz('tns')} THEN CASE tkind WHEN 'Pod' THEN tname
                      WHEN 'PersistentVolumeClaim' THEN 'persistentvolumeclaim/' || tname END END AS ref,
                 CASE WHEN tkind = 'Pod' THEN {_WORKLOAD_GUESS} END AS wl,
                 coalesce(tns, 'None') AS nss
          FROM t2)
    SELECT t.first_seq AS eid, t.cluster, t.fingerprint, ('0x' || t.fingerprint)::UBIGINT AS fpn, t.starts_us,
      CASE WHEN t.status = 'firing' THEN {INF}
           ELSE greatest(t.starts_us, CASE WHEN t.ends_us IS NULL OR t.ends_us <= {_ZERO_US} THEN t.starts_us
                                           ELSE t.ends_us END) END AS end_us,
      t.status, t.alertname, t.severity, t.namespace, t.reports, t.tkind,
      CASE WHEN t.rs_wl IS NOT NULL THEN left(t.tname, length(t.tname) - 6) END AS revision,
      CASE WHEN t.tkind = 'Node' THEN 'node:' || t.tname
           WHEN t.tkind IN ('Pod', 'PersistentVolumeClaim') AND {pwn} THEN 'workload:' || t.nss || '/' || p.workload_name
           WHEN t.tkind = 'Pod' THEN 'workload:' || t.nss || '/' || t.wl
           WHEN t.tkind IN ('Deployment', 'StatefulSet', 'DaemonSet', 'Job') THEN 'workload:' || t.nss || '/' || t.tname
           WHEN {_nz('t.tns')} THEN lower(t.tkind) || ':' || t.tns || '/' || t.tname
           ELSE lower(t.tkind) || ':' || t.tname END AS key,
      CASE WHEN t.tkind = 'Pod' AND {pwn} THEN coalesce(nullif(p.workload_kind, ''), 'Pod')
           WHEN t.tkind = 'Pod' THEN 'Workload'
           WHEN t.tkind = 'PersistentVolumeClaim' AND {pwn} THEN coalesce(nullif(p.workload_kind, ''), 'Workload')
           ELSE t.tkind END AS s_kind,
      t.tns AS s_namespace,
      CASE WHEN t.tkind IN ('Pod', 'PersistentVolumeClaim') AND {pwn} THEN p.workload_name
           WHEN t.tkind = 'Pod' THEN t.wl ELSE t.tname END AS s_name,
      CASE WHEN t.tkind = 'Pod' THEN CASE WHEN p.ref IS NOT NULL THEN nullif(p.node, '') ELSE nullif(t.node, '') END
           END AS pod_node,
      (t.alertname IN ('KubeletDown', 'KubeletInstanceUnreachable') OR (t.alertname = 'TargetDown'
        AND coalesce(t.job, '') IN ('kubelet', 'node-exporter', 'kube-proxy', 'cadvisor'))) AS symptom
    FROM t {join}""")


def _sessions(src: str, window: int) -> str:
    """SQL giving (eid, g): rule 3's islands of ``src`` (eid, pk, starts_us, fpn, end_us), where ``pk``
    stands for (cluster, key). Narrow rows and integer keys: the three windows share one order."""
    w = "PARTITION BY pk ORDER BY starts_us, fpn"
    return f"""SELECT eid, sum(f) OVER ({w} ROWS UNBOUNDED PRECEDING) AS g
    FROM (SELECT eid, pk, starts_us, fpn,
                 CASE WHEN starts_us > coalesce(lag(cm) OVER ({w}), {-INF}) + {window} THEN 1 ELSE 0 END AS f
          FROM (SELECT eid, pk, starts_us, fpn, max(end_us) OVER ({w} ROWS UNBOUNDED PRECEDING) AS cm
                FROM ({src})))"""


def _absorb(con: duckdb.DuckDBPyConnection, window: int, lead: int) -> None:
    """Rule 2: node islands, then the node key of the workload sessions and symptoms they absorb."""
    narrow = "SELECT eid, hash(cluster, key) AS pk, starts_us, fpn, end_us FROM ep WHERE starts_with(key, '{}')"
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE nisl AS
    SELECT e.cluster, e.key, substr(e.key, 6) AS node, min(e.starts_us) AS istart, max(e.end_us) AS iend
    FROM ({_sessions(narrow.format('node:'), window)}) s JOIN ep e USING (eid)
    GROUP BY e.cluster, e.key, s.g""")
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE wses AS
    SELECT e.eid, e.cluster, e.key, e.tkind, e.pod_node, e.starts_us, s.g
    FROM ({_sessions(narrow.format('workload:'), window)}) s JOIN ep e USING (eid)""")
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE hit AS
    WITH w AS (SELECT cluster, key, g, any_value(pod_node) AS node, min(starts_us) AS t
               FROM wses WHERE tkind = 'Pod' GROUP BY cluster, key, g
               HAVING count(DISTINCT pod_node) = 1 AND count(pod_node) = count(*)),
    wh AS (SELECT w.cluster, w.key, w.g, arg_min(i.key, i.istart) AS nkey
           FROM w JOIN nisl i ON i.cluster = w.cluster AND i.node = w.node AND w.t >= i.istart - {lead}
             AND w.t <= i.iend
           GROUP BY w.cluster, w.key, w.g)
    SELECT s.eid, wh.nkey FROM wses s JOIN wh USING (cluster, key, g)
    UNION ALL
    SELECT e.eid, arg_min(i.key, struct_pack(s := i.istart, k := i.key))
    FROM ep e JOIN nisl i ON i.cluster = e.cluster AND e.starts_us >= i.istart - {lead} AND e.starts_us <= i.iend
    WHERE e.symptom AND NOT starts_with(e.key, 'node:') AND NOT starts_with(e.key, 'workload:')
    GROUP BY e.eid""")


def _islands(con: duckdb.DuckDBPyConnection, window: int) -> None:
    """Rule 3 over the final keys; one incident per island with its deterministic id."""
    con.execute("""
    CREATE OR REPLACE TEMP TABLE episodes AS
    SELECT e.*, coalesce(h.nkey, e.key) AS fkey, hash(e.cluster, coalesce(h.nkey, e.key)) AS fpk
    FROM ep e LEFT JOIN hit h USING (eid)""")
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE isl AS
    {_sessions("SELECT eid, fpk AS pk, starts_us, fpn, end_us FROM episodes", window)}""")
    head = "struct_pack(s := starts_us, a := alertname, f := fingerprint)"
    # one ordered pick per island (its head episode, and the first that names a revision), then a join
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE incidents AS
    WITH agg AS (SELECT fpk, g, min(starts_us) AS opened_us, max(end_us) AS end_us,
                        max(CASE WHEN end_us < {INF} THEN greatest(starts_us, end_us) ELSE starts_us END) AS updated_us,
                        arg_min(eid, {head}) AS head_eid,
                        arg_min(eid, {head}) FILTER (WHERE revision IS NOT NULL) AS rev_eid,
                        count(*) AS episodes, count(DISTINCT fingerprint) AS alerts
                 FROM episodes JOIN isl USING (eid) GROUP BY fpk, g)
    SELECT 'inc-' || left(sha1(h.cluster || '|' || h.fkey || '|' || {_iso('a.opened_us')}), 16) AS id,
           h.cluster, h.fkey AS key, a.opened_us, a.end_us, a.updated_us, h.alertname AS first_alertname,
           r.revision,
           CASE WHEN starts_with(h.fkey, 'node:') THEN 'Node' ELSE h.s_kind END AS s_kind,
           CASE WHEN starts_with(h.fkey, 'node:') THEN NULL ELSE h.s_namespace END AS s_namespace,
           CASE WHEN starts_with(h.fkey, 'node:') THEN substr(h.fkey, 6) ELSE h.s_name END AS s_name,
           a.episodes, a.alerts, a.fpk, a.g
    FROM agg a JOIN episodes h ON h.eid = a.head_eid LEFT JOIN episodes r ON r.eid = a.rev_eid""")
    con.execute("""
    CREATE OR REPLACE TEMP TABLE episodes AS
    SELECT e.* EXCLUDE (fpk), i.id AS incident_id
    FROM episodes e JOIN isl s USING (eid) JOIN incidents i ON i.fpk = e.fpk AND i.g = s.g""")


def _fleet(con: duckdb.DuckDBPyConnection, fleet_window: int) -> None:
    """Rule 4: chains of same-key, same-first-alertname, same-revision workload incidents across clusters."""
    order = "PARTITION BY key, first_alertname, rev ORDER BY opened_us, cluster, id"
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE fleet_members AS
    WITH f AS (SELECT id, cluster, key, first_alertname, coalesce(revision, '') AS rev, opened_us,
                      CASE WHEN opened_us - lag(opened_us) OVER ({order}) > {fleet_window} THEN 1 ELSE 0 END AS nf
               FROM incidents WHERE starts_with(key, 'workload:') AND revision IS NOT NULL AND revision <> ''),
    g AS (SELECT *, sum(nf) OVER ({order} ROWS UNBOUNDED PRECEDING) AS grp FROM f),
    s AS (SELECT key, first_alertname, rev, grp, min(opened_us) AS fo FROM g GROUP BY ALL
          HAVING count(DISTINCT cluster) >= 2)
    SELECT g.id, 'fleet-' || left(sha1('fleet|' || g.key || '|' || g.first_alertname || '|' || g.rev || '|'
                                 || {_iso('s.fo')}), 16)
             AS fleet_id,
           row_number() OVER (PARTITION BY g.key, g.first_alertname, g.rev, g.grp
                              ORDER BY g.opened_us, g.cluster, g.id) - 1 AS fleet_rank
    FROM g JOIN s USING (key, first_alertname, rev, grp)""")
    con.execute("""
    CREATE OR REPLACE TEMP TABLE incidents AS
    SELECT i.*, m.fleet_id, m.fleet_rank FROM incidents i LEFT JOIN fleet_members m USING (id)""")


def refleet_sql(con: duckdb.DuckDBPyConnection, cfg: CorrelationConfig) -> None:
    """Rule 4 again over an ``incidents`` table merged from shards (each shard saw its clusters only)."""
    con.execute("CREATE OR REPLACE TEMP TABLE incidents AS SELECT * EXCLUDE (fleet_id, fleet_rank) FROM incidents")
    _fleet(con, round(cfg.fleet_window_s * 1_000_000))
