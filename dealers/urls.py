from django.urls import path

from dealers import api_key_views, invitation_views, views

urlpatterns = [
    path("dealership/switch/", views.switch_dealer, name="switch_dealer"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/<int:pk>/", views.staff_edit, name="staff_edit"),
    path(
        "staff/invitations/<int:pk>/revoke/",
        invitation_views.staff_invitation_revoke,
        name="staff_invitation_revoke",
    ),
    path("invitations/<str:token>/", invitation_views.invitation_accept, name="invitation_accept"),
    path("dealership/api-keys/", api_key_views.api_keys, name="api_keys"),
    path("dealership/api-keys/<int:pk>/rotate/", api_key_views.api_key_rotate, name="api_key_rotate"),
    path("dealership/api-keys/<int:pk>/revoke/", api_key_views.api_key_revoke, name="api_key_revoke"),
]
