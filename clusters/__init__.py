"""The fleet: the registry, cluster sources and the fleet simulator.

``fleet`` reads ``fleet.yaml``; ``dump`` loads ``kubectl cluster-info dump`` directories (old internal types normalised to v1),
``live`` talks to a real API server through the official client, ``selectors`` implements label
and field selectors once for both the dump source and the simulator, and ``simulator`` serves
dumps over the real Kubernetes REST API, one path prefix per cluster.
"""
