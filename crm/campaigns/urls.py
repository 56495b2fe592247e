"""The campaign pages of the dealership UI (docs/campaigns.md)."""

from django.urls import path

from crm.campaigns import views

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<uuid:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<uuid:pk>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<uuid:pk>/export/", views.campaign_export, name="campaign_export"),
    path("reports/campaigns/", views.campaign_report, name="campaign_report"),
]
