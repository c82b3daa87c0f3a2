"""The live correlator: alerts in (webhook by webhook), incidents out, by the rules of correlation v2.

The rules live in :mod:`engine.correlation_rules` (episodes, keys, node absorption, islands, fleet
incidents); this class keeps each cluster's *active* episodes and, after every batch, re-derives
that cluster's incidents with :func:`~engine.correlation_rules.correlate_cluster` and diffs them
against what it had. So live ingest and ``fleetsre replay`` (the same rules in DuckDB SQL) give the
same alerts the same incidents with the same ids, whatever order the alerts of a cluster arrive in.
An incident that a node incident swallows later becomes ``merged`` (``merged_into`` the node's).

Episodes leave the active set once their incident has resolved and nothing newer can reach it
(``group_window_s`` + ``node_lead_s`` behind the newest event time seen in that cluster): memory is
bounded by what is open or recent, not by history. Driven by alert timestamps, never the wall clock.

``ingest`` returns the incidents that changed (each once); :meth:`Correlator.to_investigate` picks
those that need a (re-)investigation, at most ``fleet_investigate_max`` clusters per fleet incident.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from engine.alerts import Alert, alert_target
from engine.config import CorrelationConfig
from engine.correlation_rules import (
    CLAIM_PREFIX,
    INF,
    Episode,
    FleetRow,
    Island,
    PodPlacement,
    Topology,
    correlate_cluster,
    episode_of,
    fleet_groups,
    from_us,
    grouping_key,
    is_node_symptom,
    node_lead_us,
    to_us,
    topology_ref,
)
from engine.incident import Incident

__all__ = ["CLAIM_PREFIX", "Correlator", "PodPlacement", "Topology", "grouping_key", "is_node_symptom",
           "topology_ref"]

_Ep = tuple[str, int]  # (fingerprint, start µs) within a cluster
_Part = tuple[str, str, str]  # fleet-pass partition: key, first alertname, revision


class Correlator:
    def __init__(self, config: CorrelationConfig | None = None, topology: Topology | None = None) -> None:
        self.cfg = config or CorrelationConfig()
        self.topology = topology
        self.incidents: dict[str, Incident] = {}
        #: (cluster, fingerprint) → the incident of that alert's latest episode
        self.alert_incident: dict[tuple[str, str], str] = {}
        #: (cluster, fingerprint, startsAt µs) → incident: every episode, flaps included
        self.episode_incident: dict[tuple[str, str, int], str] = {}
        self._active: dict[str, dict[_Ep, Episode]] = defaultdict(dict)
        self._live_ids: dict[str, set[str]] = defaultdict(set)  # incidents still derived from active episodes
        self._watermark: dict[str, int] = {}
        self._latest: dict[tuple[str, str], int] = {}
        self._sigs: dict[str, list[tuple[str, int, int]]] = {}  # incident → its members (fp, start, end) last seen
        self._fleet_rows: dict[str, FleetRow] = {}  # incident → fleet-pass input row
        self._fleet_parts: dict[_Part, set[str]] = defaultdict(set)

    # -- public -------------------------------------------------------------------------------
    def ingest(self, alerts: Iterable[Alert]) -> list[Incident]:
        """Apply a batch of alerts; return the incidents that changed (each once)."""
        touched: dict[str, None] = {}
        for alert in alerts:
            self._apply(alert)
            touched[alert.cluster] = None
        changed: dict[str, None] = {}
        parts: set[_Part] = set()
        for cluster in touched:
            self._recompute(cluster, changed, parts)
        self._refleet(parts, changed)
        return [self.incidents[i] for i in changed]

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.status == "open"]

    def fleet_rows(self) -> list[FleetRow]:
        """This correlator's input to the fleet pass: with cluster-hash shards (one correlator per
        shard), run :func:`~engine.correlation_rules.fleet_groups` over every shard's rows."""
        return list(self._fleet_rows.values())

    def to_investigate(self, incidents: Iterable[Incident]) -> list[Incident]:
        """The open incidents worth an investigation: a fleet incident's first members only."""
        cap = self.cfg.fleet_investigate_max
        return [i for i in incidents if i.status == "open" and (i.fleet_rank is None or i.fleet_rank < cap)]

    # -- episodes -----------------------------------------------------------------------------
    def _apply(self, alert: Alert) -> None:
        start = to_us(alert.startsAt)
        ident = (alert.fingerprint, start)
        known = self._active[alert.cluster].get(ident)
        if known is None:
            if (alert.cluster, alert.fingerprint, start) in self.episode_incident:
                return  # an episode of a frozen (long resolved) incident: nothing can change it now
            known = episode_of(alert, self._placement(alert))
            self._active[alert.cluster][ident] = known
        else:  # the last report of an episode wins (status, endsAt)
            if alert.annotations == {} and known.alert is not None:
                alert = alert.model_copy(update={"annotations": known.alert.annotations})
            known.end = INF if alert.status == "firing" else max(start, to_us(alert.endsAt or alert.startsAt))
            known.alert = alert
        seen = max(start, known.end if known.end < INF else start)
        self._watermark[alert.cluster] = max(self._watermark.get(alert.cluster, seen), seen)
        key = (alert.cluster, alert.fingerprint)
        self._latest[key] = max(self._latest.get(key, start), start)

    def _placement(self, alert: Alert) -> PodPlacement | None:
        t = alert_target(alert.labels)
        ref = topology_ref(t)
        if self.topology is None or ref is None:
            return None
        try:
            return self.topology(alert.cluster, t.namespace or "", ref)
        except Exception:  # topology is an enrichment; grouping by name still works without it
            return None

    # -- incidents ----------------------------------------------------------------------------
    def _recompute(self, cluster: str, changed: dict[str, None], parts: set[_Part]) -> None:
        islands = correlate_cluster(list(self._active[cluster].values()), self.cfg)
        before = self._live_ids[cluster]
        now: set[str] = set()
        for isl in islands:
            now.add(isl.id)
            if self._sync(isl):
                changed[isl.id] = None
            parts.update(self._index_fleet(isl))
        for gone in before - now:
            self._retire(gone, changed, parts)
        self._live_ids[cluster] = now
        self._freeze(cluster, islands)

    def _sync(self, isl: Island) -> bool:
        """Make the stored incident match the island; True when it changed."""
        members = sorted(isl.members, key=lambda e: (e.start, e.fingerprint))
        for e in members:
            self.episode_incident[(isl.cluster, e.fingerprint, e.start)] = isl.id
            if self._latest.get((isl.cluster, e.fingerprint)) == e.start:
                self.alert_incident[(isl.cluster, e.fingerprint)] = isl.id
        status = "resolved" if isl.resolved else "open"
        sig = [(e.fingerprint, e.start, e.end) for e in members]
        inc = self.incidents.get(isl.id)
        if inc is None:
            inc = Incident(id=isl.id, cluster=isl.cluster, key=isl.key, subject=isl.subject, status=status,
                           opened_at=from_us(isl.opened), updated_at=from_us(isl.opened))
            self.incidents[isl.id] = inc
        old_sig = self._sigs.get(isl.id, [])
        if (inc.status, old_sig) == (status, sig):
            return False
        grew = not {x[:2] for x in sig} <= {x[:2] for x in old_sig}
        if grew or (status == "open" and inc.status != "open"):
            inc.revision += 1
        self._sigs[isl.id] = sig
        inc.alerts = [e.alert for e in members if e.alert is not None]
        inc.status, inc.merged_into, inc.subject = status, None, isl.subject
        inc.resolved_at = from_us(isl.end) if isl.resolved else None
        inc.updated_at = from_us(max(max(e.start, e.end if e.end < INF else e.start) for e in members))
        return True

    def _retire(self, gone: str, changed: dict[str, None], parts: set[_Part]) -> None:
        """An incident whose episodes all went elsewhere (a node incident absorbed them)."""
        inc = self.incidents[gone]
        into = next((self.episode_incident.get((a.cluster, a.fingerprint, to_us(a.startsAt))) for a in inc.alerts),
                    None)
        inc.status, inc.merged_into = "merged", into if into != gone else None
        self._sigs.pop(gone, None)
        inc.fleet_id = inc.fleet_rank = None
        row = self._fleet_rows.pop(gone, None)
        if row is not None:
            self._fleet_parts[row[2:5]].discard(gone)
            parts.add(row[2:5])
        changed[gone] = None

    def _freeze(self, cluster: str, islands: list[Island]) -> None:
        """Drop episodes that no future event (in event order) can regroup."""
        horizon = self._watermark.get(cluster, 0) - round(self.cfg.group_window_s * 1e6) - node_lead_us(self.cfg)
        active = self._active[cluster]
        for isl in islands:
            if isl.end < horizon:
                for e in isl.members:
                    del active[(e.fingerprint, e.start)]
                self._live_ids[cluster].discard(isl.id)

    # -- fleet --------------------------------------------------------------------------------
    def _index_fleet(self, isl: Island) -> list[_Part]:
        row: FleetRow = (isl.id, isl.cluster, isl.key, isl.first_alertname, isl.revision or "", isl.opened)
        old = self._fleet_rows.get(isl.id)
        if old == row:
            return []
        touched = []
        if old is not None:
            self._fleet_parts[old[2:5]].discard(isl.id)
            touched.append(old[2:5])
        self._fleet_rows[isl.id] = row
        self._fleet_parts[row[2:5]].add(isl.id)
        return [*touched, row[2:5]]

    def _refleet(self, parts: set[_Part], changed: dict[str, None]) -> None:
        for part in parts:
            if not part[0].startswith("workload:"):
                continue
            ids = self._fleet_parts.get(part, set())
            groups = fleet_groups([self._fleet_rows[i] for i in ids], self.cfg)
            placed = {m: (g.id, rank) for g in groups for rank, m in enumerate(g.members)}
            for i in ids:
                inc = self.incidents[i]
                fid, rank = placed.get(i, (None, None))
                if (inc.fleet_id, inc.fleet_rank) != (fid, rank):
                    inc.fleet_id, inc.fleet_rank = fid, rank
                    changed[i] = None

