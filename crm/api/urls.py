"""The REST API under /api/: version 1 for dealer systems, its OpenAPI schema and interactive docs."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crm.api import batch, catalogue, feed, views

# Imported for its side effect: the API key's security scheme in the schema.
from crm.api import schema as _schema  # noqa: F401
from crm.appointments import api as appointments_api


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema; public (it holds no data), as are the docs."""

    authentication_classes = []
    permission_classes = []
    serve_public = True
    # Its generator settings (enum names, hooks) are SPECTACULAR_SETTINGS in crm/settings.py, so the
    # deploy check (drf_spectacular.W001) judges the schema this view serves.


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI; its init script is a separate URL (``?script``), so the page needs no inline code (CSP)."""

    authentication_classes = []
    permission_classes = []


v1: list[URLPattern | URLResolver] = [
    path("me/", views.MeView.as_view(), name="api_me"),
    path("prospects/", views.ProspectListView.as_view(), name="api_prospect_list"),
    re_path(  # any characters, slashes and line breaks included: the dealer system chose the id
        r"^prospects/by-external-id/(?P<external_id>[\s\S]+)\Z",
        views.ProspectByExternalIdView.as_view(),
        name="api_prospect_by_external_id",
    ),
    path("prospects/batch-upsert/", batch.ProspectBatchUpsertView.as_view(), name="api_prospect_batch_upsert"),
    path("prospects/<str:pk>/", views.ProspectDetailView.as_view(), name="api_prospect_detail"),
    path("prospects/<str:pk>/erase", views.ProspectEraseView.as_view(), name="api_prospect_erase"),
    path("leads/", views.LeadListView.as_view(), name="api_lead_list"),
    path("leads/<str:pk>/", views.LeadDetailView.as_view(), name="api_lead_detail"),
    path("leads/<str:pk>/stage/", views.LeadStageView.as_view(), name="api_lead_stage"),
    path("leads/<str:pk>/assign/", views.LeadAssignView.as_view(), name="api_lead_assign"),
    path("leads/<str:pk>/test-drives/", appointments_api.LeadTestDriveView.as_view(), name="api_lead_test_drive"),
    path("lost-reasons/", views.LostReasonListView.as_view(), name="api_lost_reasons"),
    path("catalogue/models/", catalogue.VehicleModelListView.as_view(), name="api_catalogue_models"),
    path("activities/", views.ActivityListView.as_view(), name="api_activity_list"),
    path("activities/<str:pk>/", views.ActivityDetailView.as_view(), name="api_activity_detail"),
    path("tasks/", views.TaskListView.as_view(), name="api_task_list"),
    path("tasks/<str:pk>/", views.TaskDetailView.as_view(), name="api_task_detail"),
    path("consents/", views.ConsentListView.as_view(), name="api_consent_list"),
    path("consents/<str:pk>/", views.ConsentDetailView.as_view(), name="api_consent_detail"),
    path("changes/", feed.ChangeFeedView.as_view(), name="api_change_feed"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("schema/", SchemaView.as_view(), name="api_schema"),
    path("docs/", DocsView.as_view(url_name="api_schema"), name="api_docs"),
    path("v1/", include(v1)),
]
