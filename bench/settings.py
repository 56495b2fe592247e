"""Settings for benchmarks: the product's settings plus the bare baseline views (bench/urls.py).

DJANGO_SETTINGS_MODULE=bench.settings gunicorn crm.wsgi
"""

from crm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# The benchmark measures the endpoint, not the rate limit's 429s (the counter still runs per request).
API_RATE_LIMIT = "100000000/minute"
