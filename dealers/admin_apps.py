"""The admin app with our admin site as ``admin.site`` (INSTALLED_APPS names this instead of django.contrib.admin)."""

from django.contrib.admin.apps import AdminConfig


class VerifiedAdminConfig(AdminConfig):
    default_site = "dealers.admin_site.VerifiedAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscovers every app's admin module, django-otp's too
        from django.contrib import admin

        from dealers.admin_site import replace_device_admins

        replace_device_admins(admin.site)
