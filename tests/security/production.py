"""The environment a production node needs at the least (values are test-only, never real secrets)."""

from __future__ import annotations

PRODUCTION_ENV: dict[str, str] = {
    "DJANGO_ENV": "production",
    "DJANGO_DEBUG": "false",
    # 64 characters, many distinct: what check --deploy asks of a secret key.
    "DJANGO_SECRET_KEY": "test-only-3f9c1b7e5a2d4c6b8e0f1a3c5e7b9d2f4a6c8e0b2d4f6a8c0e2b4d6f",
    "ALLOWED_HOSTS": "crm.example,127.0.0.1",
    "HA_TOKEN": "test-only-ha-token-5b8d2e4f7a9c1e3b5d7f9a2c",
    "METRICS_TOKEN": "test-only-metrics-token-8e1c4a7d9b2f5e8a1c4d",
    "ERASURE_TOMBSTONE_KEY": "test-only-tombstone-key-2c7e9a4b1d6f8a3c5e7b",
}
