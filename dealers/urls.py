from django.urls import path

from dealers import views

urlpatterns = [
    path("dealership/switch/", views.switch_dealer, name="switch_dealer"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/<int:pk>/", views.staff_edit, name="staff_edit"),
]
