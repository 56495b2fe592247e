"""The notifications' pages (included by crm/urls.py)."""

from django.urls import path

from crm.notifications import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/count/", views.notification_count, name="notification_count"),
    path("notifications/read-all/", views.notification_read_all, name="notification_read_all"),
    path("notifications/settings/", views.notification_preferences, name="notification_preferences"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
]
