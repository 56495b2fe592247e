"""The admin app with our admin site as ``admin.site`` (INSTALLED_APPS names this instead of django.contrib.admin)."""

from django.contrib.admin.apps import AdminConfig


class VerifiedAdminConfig(AdminConfig):
    default_site = "dealers.admin_site.VerifiedAdminSite"
