from django.urls import path

from crm.ui import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
