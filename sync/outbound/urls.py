from django.urls import URLPattern, URLResolver, path

from sync.outbound import metrics, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("sync/", views.sync_settings, name="sync_settings"),
    path("sync/destinations/<int:pk>/", views.sync_destination, name="sync_destination"),
    path("sync/destinations/<int:pk>/<slug:action>/", views.sync_destination_action, name="sync_destination_action"),
    path("sync/dead-letters/<int:pk>/<slug:action>/", views.sync_dead_letter_action, name="sync_dead_letter_action"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
