from django.urls import include, path

urlpatterns = [
    path("", include("sync.inbound.urls")),
    path("", include("sync.outbound.urls")),
]
