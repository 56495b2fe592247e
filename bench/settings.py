"""Settings for benchmarks: the product's settings plus the bare baseline views (bench/urls.py).

DJANGO_SETTINGS_MODULE=bench.settings gunicorn crm.wsgi
"""

from crm.settings import *  # noqa: F403
from crm.settings import PRODUCTION, STORAGES

ROOT_URLCONF = "bench.urls"
# The benchmark measures the endpoint, not the rate limit's 429s (the counter still runs per request).
API_RATE_LIMIT = "100000000/minute"
if PRODUCTION:
    # Static files hashed into their manifest as in production, but not compressed: no benchmark request
    # fetches one, and brotli and gzip of every file took a minute of CPU on each run's collectstatic.
    STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
