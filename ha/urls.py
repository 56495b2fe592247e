from django.urls import path

from ha import views

urlpatterns = [
    path("live", views.live, name="ha_live"),
    path("ready", views.ready, name="ha_ready"),
    path("primary", views.primary, name="ha_primary"),
    path("replica", views.replica, name="ha_replica"),
    path("health", views.health, name="ha_health"),
]
