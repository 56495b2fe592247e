"""E-mail pages of the dealership UI (docs/messaging.md)."""

from django.urls import path

from crm.messaging import views

urlpatterns = [
    path("leads/<uuid:pk>/email/", views.lead_email, name="lead_email"),
    path("prospects/<uuid:pk>/email/", views.prospect_email, name="prospect_email"),
    path("email-templates/", views.template_list, name="email_template_list"),
    path("email-templates/new/", views.template_create, name="email_template_create"),
    path("email-templates/<int:pk>/", views.template_edit, name="email_template_edit"),
]
