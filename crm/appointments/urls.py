"""Routes of the appointment pages (tests/route_matrix.py lists each with who may use it)."""

from django.urls import path

from crm.appointments import views

urlpatterns = [
    path("appointments/", views.appointment_calendar, name="appointment_calendar"),
    path("appointments/feed/", views.calendar_feed_settings, name="calendar_feed_settings"),
    path("appointments/<uuid:pk>/", views.appointment_detail, name="appointment_detail"),
    path("appointments/<uuid:pk>/move/", views.appointment_move, name="appointment_move"),
    path("appointments/<uuid:pk>/licence/", views.appointment_licence, name="appointment_licence"),
    path("appointments/<uuid:pk>/agreement/", views.appointment_agreement, name="appointment_agreement"),
    path("appointments/<uuid:pk>/invitation.ics", views.appointment_ics, name="appointment_ics"),
    path("appointments/<uuid:pk>/<slug:action>/", views.appointment_action, name="appointment_action"),
    path("leads/<uuid:pk>/appointments/new/", views.lead_appointment_create, name="lead_appointment_create"),
    path("demo-cars/", views.democar_list, name="democar_list"),
    path("demo-cars/<uuid:pk>/", views.democar_edit, name="democar_edit"),
    # Public: the secret token is the credential (a calendar program subscribes without a session).
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
