"""fleetsre core: plain Python, no Ray.

Alerts come in (``alerts``), are correlated into incidents (``correlate``), evidence is collected
from cluster sources (``sources``, ``collect``) and stored as Parquet (``evidence``), detectors
turn evidence into a report (``investigate``, ``report``) and the DuckDB store keeps history
(``history``).
"""
