"""The failover drill: ``python -m drill`` (``make drill``), docs/drill.md.

It builds the two-node cluster on one machine (network namespaces, etcd, Patroni, HAProxy, Redis, two
application nodes and a webhook receiver), drives writes through it while faults come one after
another, and counts every acknowledged write afterwards (:mod:`drill.checker`). Like ``devstack/`` it
is tooling beside ``manage.py``: it drives the apps only through processes and HTTP, never by
importing them (the receiver reuses the standalone dealer-system simulator, ``sync.simulator``).
"""
