from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Prospects and leads")

    def ready(self) -> None:
        from crm.defaults import ensure_defaults

        post_migrate.connect(ensure_defaults, sender=self, dispatch_uid="crm.defaults")
