from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "crm.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from crm.notifications.services import forget_erased_person
        from crm.services import erasure

        if forget_erased_person not in erasure.erasure_hooks:
            erasure.erasure_hooks.append(forget_erased_person)
