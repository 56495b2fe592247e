"""Quote pages (docs/quotes.md); included by crm/urls.py."""

from django.urls import path

from crm.quotes import views

urlpatterns = [
    path("leads/<uuid:lead_pk>/quotes/new/", views.quote_create, name="quote_create"),
    path("quotes/<uuid:pk>/", views.quote_detail, name="quote_detail"),
    path("quotes/<uuid:pk>/revise/", views.quote_revise, name="quote_revise"),
    path("quotes/<uuid:pk>/v<int:number>/pdf/", views.quote_pdf, name="quote_pdf"),
    path("quotes/<uuid:pk>/send/", views.quote_action, {"action": "send"}, name="quote_send"),
    path("quotes/<uuid:pk>/accept/", views.quote_action, {"action": "accept"}, name="quote_accept"),
    path("quotes/<uuid:pk>/decline/", views.quote_action, {"action": "decline"}, name="quote_decline"),
]
