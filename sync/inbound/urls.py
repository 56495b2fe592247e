from django.urls import URLPattern, URLResolver, path

from sync.inbound import api, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/intake/leads/", api.IntakeLeadView.as_view(), name="intake_leads"),
    path("dealership/imports/", views.import_list, name="inbound_imports"),
    path("dealership/imports/<int:pk>/", views.import_detail, name="inbound_import_detail"),
]
