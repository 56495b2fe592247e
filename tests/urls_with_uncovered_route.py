"""A URLconf with one route the matrix does not know, to prove the walker reports it."""

from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("", include("crm.urls")),
    path("extra/", lambda request: HttpResponse(), name="not_in_matrix"),
]
