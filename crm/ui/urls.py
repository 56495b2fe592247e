"""The dealership's browser UI for prospects, leads, activities and tasks."""

from django.urls import path

from crm.ui.views import dashboard, exports, leads, marketing, prospects, reports, tasks

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    # Leads
    path("leads/", leads.lead_list, name="lead_list"),
    path("leads/board/", leads.lead_board, name="lead_board"),
    path("leads/export/", exports.lead_export, name="lead_export"),
    path("leads/<uuid:pk>/", leads.lead_detail, name="lead_detail"),
    path("leads/<uuid:pk>/edit/", leads.lead_edit, name="lead_edit"),
    path("leads/<uuid:pk>/activity/", leads.lead_log_activity, name="lead_log_activity"),
    path("leads/<uuid:pk>/schedule/", leads.lead_schedule, name="lead_schedule"),
    path("leads/<uuid:pk>/stage/", leads.lead_stage, name="lead_stage"),
    path("leads/<uuid:pk>/assign/", leads.lead_assign, name="lead_assign"),
    path("leads/<uuid:pk>/take/", leads.lead_take, name="lead_take"),
    # Prospects
    path("prospects/", prospects.prospect_list, name="prospect_list"),
    path("prospects/new/", prospects.prospect_create, name="prospect_create"),
    path("prospects/export/", exports.prospect_export, name="prospect_export"),
    path("prospects/export/marketing/", marketing.marketing_export, name="marketing_export"),
    path("prospects/duplicates/", prospects.duplicate_list, name="duplicate_list"),
    path("prospects/<uuid:pk>/", prospects.prospect_detail, name="prospect_detail"),
    path("prospects/<uuid:pk>/edit/", prospects.prospect_edit, name="prospect_edit"),
    path("prospects/<uuid:pk>/activity/", prospects.prospect_log_activity, name="prospect_log_activity"),
    path("prospects/<uuid:pk>/personal-data/", exports.prospect_personal_data, name="prospect_personal_data"),
    path("prospects/<uuid:prospect_pk>/leads/new/", leads.lead_create, name="lead_create"),
    path("prospects/<uuid:pk>/merge/<uuid:other>/", prospects.prospect_merge, name="prospect_merge"),
    path("prospects/<uuid:pk>/erase/", prospects.prospect_erase, name="prospect_erase"),
    # Tasks and reports
    path("tasks/", tasks.task_list, name="task_list"),
    path("tasks/<uuid:pk>/done/", tasks.task_done, name="task_done"),
    path("reports/", reports.report_overview, name="reports"),
]
