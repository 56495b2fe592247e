"""The product's URLs plus the bare baselines the benchmarks compare against (only under bench.settings)."""

from django.urls import path

from bench.views import bare_prospect_list
from crm.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    path("bench/bare/prospects/", bare_prospect_list, name="bench_bare_prospects"),
    *product_urlpatterns,
]
